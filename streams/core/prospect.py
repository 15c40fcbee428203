"""A prospect's state and the pure transition ``apply(state, input, model)``.

Inputs are interactions, CRM verdicts and clock ticks. Same inputs in the same order
under the same model give the same state and the same effects; a redelivered input
(same ``event_id``) changes nothing. Scores are derived from per-rule tallies at the
state's clock (the newest event time seen), so decay is computed in event time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Union

from schemas.records import CrmFeedback, Interaction
from streams.core import lifecycle, scoring
from streams.core.decay import decay_factor
from streams.core.identity import is_anonymous
from streams.core.model import ScoringModel
from streams.core.scoring import RuleTally

SEEN_WINDOW = 2000
LEDGER_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passing without events (from the worker's clock): lets decay demote a lead."""

    at: int


Input = Union[Interaction, CrmFeedback]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One score change and why: the provenance marketing ops ask for."""

    event_id: str
    rule_id: str
    points: float
    decayed: float  # behaviour lost to decay since the previous entry
    total: float
    occurred_at: int


@dataclass(frozen=True, slots=True)
class ProspectState:
    key: str
    prospect_id: str | None = None
    email: str | None = None
    stage: str = lifecycle.NAME
    profile: Mapping[str, str] = field(default_factory=dict)
    fit: float = 0.0
    fit_rules: tuple[str, ...] = ()
    tallies: Mapping[str, RuleTally] = field(default_factory=dict)
    clock: int = 0
    segments: tuple[str, ...] = ()
    version: int = 0
    promoted_at: int | None = None
    last_activity_at: int | None = None
    history: tuple[Input, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    seen: tuple[str, ...] = ()
    alias_of: str | None = None  # an anonymous visitor who turned out to be this prospect


@dataclass(frozen=True, slots=True)
class Scores:
    total: float
    fit: float
    behaviour: float
    dimensions: Mapping[str, float]


def scores(state: ProspectState, model: ScoringModel, now: int | None = None) -> Scores:
    at = state.clock if now is None else max(now, state.clock)
    behaviour = scoring.behaviour(state.tallies, model, at)
    return Scores(state.fit + behaviour, state.fit, behaviour, scoring.dimensions(state.tallies, model, at))


@dataclass(frozen=True, slots=True)
class LeadChange:
    """An effect: the lead's CRM record must change; ``kind`` is the LeadEvent type."""

    kind: str
    cause_id: str
    occurred_at: int
    received_at: int


@dataclass(frozen=True, slots=True)
class Forward:
    """An effect: this interaction of a linked anonymous visitor belongs to the known prospect now."""

    interaction: Interaction


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """An effect: hand the anonymous visitor's retained inputs to the known prospect's partition."""

    link: Interaction
    inputs: tuple[Input, ...]


Effect = Union[LeadChange, Forward, MergeRequest]


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ProspectState
    effects: tuple[Effect, ...] = ()


def apply(state: ProspectState, item: Input | Tick, model: ScoringModel) -> Outcome:
    if isinstance(item, Tick):
        return _tick(state, item, model)
    if item.event_id in state.seen:
        return Outcome(state)
    if isinstance(item, CrmFeedback):
        return _verdict(state, item, model)
    if state.alias_of is not None:
        forwarded = replace(item, prospect_key=state.alias_of, prospect_id=state.alias_of)
        return Outcome(replace(state, seen=(*state.seen, item.event_id)[-SEEN_WINDOW:]), (Forward(forwarded),))
    if item.type == "identity.linked" and is_anonymous(state.key) and item.prospect_id:
        linked = replace(state, alias_of=item.prospect_id, seen=(*state.seen, item.event_id)[-SEEN_WINDOW:])
        return Outcome(linked, (MergeRequest(item, state.history),))
    return _interaction(state, item, model)


def absorb(known: ProspectState, request: MergeRequest, model: ScoringModel) -> Outcome:
    """The known prospect's side of an identity merge; redelivery changes nothing."""
    link = request.link
    if link.event_id in known.seen or link.prospect_id is None:
        return Outcome(known)
    anonymous = replay(link.prospect_key, list(request.inputs), model)
    merged = merge(known, anonymous, model, link.prospect_id, link.email)
    merged = replace(merged, seen=(*merged.seen, link.event_id)[-SEEN_WINDOW:])
    if merged.stage == lifecycle.LEAD and known.stage != lifecycle.LEAD:
        kind = "lead.promoted"
    elif lifecycle.in_sales(merged.stage):
        kind = "lead.updated"
    else:
        return Outcome(merged)
    return Outcome(merged, (LeadChange(kind, link.event_id, link.occurred_at, link.received_at),))


def replay(key: str, inputs: list[Input], model: ScoringModel) -> ProspectState:
    """The state these inputs produce from scratch: how rescoring and identity merges are computed."""
    state = ProspectState(key)
    for item in inputs:
        state = apply(state, item, model).state
    return state


def canonical_order(inputs: list[Input]) -> list[Input]:
    return sorted(inputs, key=_order)


def merge(known: ProspectState, anonymous: ProspectState, model: ScoringModel, prospect_id: str,
          email: str | None) -> ProspectState:
    """The known prospect after absorbing an anonymous one: as if every input had been theirs from the start.

    Once-only rules, caps and decay then hold across both histories; the anonymous events
    take the identity the link (``identity.linked``) names.
    """
    own = {i.event_id for i in known.history}
    adopted = [replace(i, prospect_key=known.key, prospect_id=prospect_id, email=email)
               if isinstance(i, Interaction) else i for i in anonymous.history if i.event_id not in own]
    merged = replay(known.key, canonical_order([*known.history, *adopted]), model)
    return replace(merged, prospect_id=prospect_id, email=merged.email or email, version=_next_version(max(known.version, anonymous.version), merged.clock))


def _interaction(state: ProspectState, event: Interaction, model: ScoringModel) -> Outcome:
    before = scoring.behaviour(state.tallies, model, state.clock)
    clock = max(state.clock, event.occurred_at)
    decayed_only = scoring.behaviour(state.tallies, model, clock)
    tallies = dict(state.tallies)
    entries: list[LedgerEntry] = []
    decayed = before - decayed_only
    running = state.fit + decayed_only
    for activation in scoring.activations(tallies, event, model):
        rule = activation.rule
        tallies[rule.id] = scoring.add(tallies.get(rule.id), rule, activation.points, event.occurred_at)
        points_now = activation.points * decay_factor(clock - event.occurred_at, rule.half_life_ms)
        running += points_now
        entries.append(LedgerEntry(event.event_id, rule.id, activation.points, decayed, running, event.occurred_at))
        decayed = 0.0
    profile = {**state.profile, **event.traits} if event.traits else state.profile
    fit, fit_rules = scoring.fit(profile, model) if profile is not state.profile else (state.fit, state.fit_rules)
    if fit != state.fit:
        entries.append(LedgerEntry(event.event_id, "fit:" + "+".join(fit_rules), fit - state.fit, decayed,
                                   running + fit - state.fit, event.occurred_at))
    segments = state.segments
    joined = [s.id for s in model.segments if s.id not in segments and s.condition.matches(event)]
    if joined:
        segments = tuple(sorted((*segments, *joined)))
    new = replace(
        state, prospect_id=state.prospect_id or event.prospect_id, email=state.email or event.email,
        profile=profile, fit=fit, fit_rules=fit_rules, tallies=tallies, clock=clock, segments=segments,
        version=_next_version(state.version, event.received_at),
        last_activity_at=max(state.last_activity_at or event.occurred_at, event.occurred_at),
        history=_retain(state.history, event, model), ledger=(*state.ledger, *entries)[-LEDGER_LIMIT:],
        seen=(*state.seen, event.event_id)[-SEEN_WINDOW:],
    )
    return _transition(new, model, event.event_id, event.occurred_at, event.received_at, activity=True)


def _verdict(state: ProspectState, verdict: CrmFeedback, model: ScoringModel) -> Outcome:
    new = replace(state, seen=(*state.seen, verdict.event_id)[-SEEN_WINDOW:],
                  history=_retain(state.history, verdict, model),
                  clock=max(state.clock, verdict.occurred_at),
                  version=_next_version(state.version, verdict.received_at))
    stage = lifecycle.after_verdict(state.stage, verdict.type)
    if stage is None:
        return Outcome(new)
    if stage == lifecycle.NURTURE:
        new = _recycle(new, verdict, model)
        return Outcome(new, (LeadChange("lead.recycled", verdict.event_id, verdict.occurred_at,
                                        verdict.received_at),))
    new = replace(new, stage=stage)
    return Outcome(new, (LeadChange("lead.updated", verdict.event_id, verdict.occurred_at, verdict.received_at),))


def _recycle(state: ProspectState, verdict: CrmFeedback, model: ScoringModel) -> ProspectState:
    """Back to nurture; the behaviour score is reset, halved or kept as the model says."""
    factor = {"reset": 0.0, "halve": 0.5, "keep": 1.0}[model.recycle_policy]
    before = scoring.behaviour(state.tallies, model, state.clock)
    tallies = {rule_id: replace(t, value=t.value * factor) for rule_id, t in state.tallies.items()}
    entry = LedgerEntry(verdict.event_id, f"recycle:{model.recycle_policy}", before * factor - before, 0.0,
                        state.fit + before * factor, verdict.occurred_at)
    return replace(state, stage=lifecycle.NURTURE, tallies=tallies, ledger=(*state.ledger, entry)[-LEDGER_LIMIT:])


def _tick(state: ProspectState, tick: Tick, model: ScoringModel) -> Outcome:
    if tick.at <= state.clock:
        return Outcome(state)
    return _transition(replace(state, clock=tick.at), model, f"tick:{tick.at}", tick.at, tick.at, activity=False)


def _transition(state: ProspectState, model: ScoringModel, cause: str, at: int, received: int,
                activity: bool) -> Outcome:
    total = state.fit + scoring.behaviour(state.tallies, model, state.clock)
    if lifecycle.promotes(state.stage, total, model.promote_threshold, state.prospect_id is not None):
        promoted = replace(state, stage=lifecycle.LEAD, promoted_at=at)
        return Outcome(promoted, (LeadChange("lead.promoted", cause, at, received),))
    if lifecycle.demotes(state.stage, total, model.demote_threshold):
        return Outcome(replace(state, stage=lifecycle.NAME), (LeadChange("lead.demoted", cause, at, received),))
    if activity and lifecycle.in_sales(state.stage):
        return Outcome(state, (LeadChange("lead.updated", cause, at, received),))
    return Outcome(state)


def _retain(history: tuple[Input, ...], item: Input, model: ScoringModel) -> tuple[Input, ...]:
    """History in canonical order, trimmed from its oldest end to the model's retention (count and age)."""
    if not history or _order(history[-1]) <= _order(item):
        kept = (*history, item)
    else:  # an out-of-order input: rare, so a sort is fine
        kept = tuple(sorted((*history, item), key=_order))
    start = max(0, len(kept) - model.timeline_max_events)
    if model.timeline_max_age_ms is not None:
        horizon = kept[-1].occurred_at - model.timeline_max_age_ms
        while start < len(kept) and kept[start].occurred_at < horizon:
            start += 1
    return kept[start:] if start else kept


def _order(item: Input) -> tuple[int, int, str]:
    return item.occurred_at, item.received_at, item.event_id


def _next_version(current: int, received_at_ms: int) -> int:
    """Monotonic per prospect, and anchored to receive time so it keeps rising even if the state is lost
    (the embedded broker keeps nothing across restarts) and the CRM's version guard must still accept it."""
    return max(current + 1, received_at_ms * 1000)
