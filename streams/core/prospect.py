"""A prospect's state and the transition ``apply(state, input, model)``.

Inputs are interactions, CRM verdicts and clock ticks. Same inputs in the same order
under the same model give the same state and the same effects; a redelivered input
(same ``event_id``) changes nothing. Scores are derived from decaying sums at the
state's clock (the newest event time seen), so decay is computed in event time.

The state is a mutable aggregate that ``apply`` updates in place: it is owned by one
caller at a time (a worker's table, a replay), and copying its bounded history, ledger
and de-duplication window on every event cost several times the per-event budget.
Callers that need the state as it was before an input build what they need from it
(a lead event, say) before applying the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple, Union

from schemas.records import CrmFeedback, Interaction
from streams.core import lifecycle, scoring, sla
from streams.core.automation_state import ActionEffect, AutomationState, ProgramChange, Suppressed
from streams.core.decay import decay_factor
from streams.core.history import Input, retain
from streams.core.identity import person_id, resolution
from streams.core.model import RECYCLE_FACTORS, ScoringModel
from streams.core.scoring import DecayingSum, RuleTally
from streams.core.seen import RecentIds

SEEN_WINDOW = 2000
LEDGER_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passing without events (from the worker's clock): lets decay demote a lead."""

    at: int


# A NamedTuple's constructor is a Python-level __new__; the per-event paths build theirs with tuple.__new__
# (the same objects), which took 4% off the core's instructions per event (bench/core.py under callgrind).
_build = tuple.__new__


class LedgerEntry(NamedTuple):
    """One score change and why: the provenance marketing ops ask for."""

    event_id: str
    rule_id: str
    points: float
    decayed: float  # behaviour lost to decay since the previous entry
    total: float
    occurred_at: int


def _new_seen() -> RecentIds:
    return RecentIds(SEEN_WINDOW)


@dataclass(slots=True)
class ProspectState:
    key: str
    prospect_id: str | None = None
    email: str | None = None
    stage: str = lifecycle.NAME
    profile: dict[str, str] = field(default_factory=dict)
    fit: float = 0.0
    fit_rules: tuple[str, ...] = ()
    tallies: dict[str, RuleTally] = field(default_factory=dict)
    behaviour_by_half_life: dict[int | None, DecayingSum] = field(default_factory=dict)
    clock: int = 0  # the newest event time seen: scores are as of this time
    behaviour: float = 0.0  # the behaviour score at ``clock``, kept current by every transition
    segments: tuple[str, ...] = ()
    version: int = 0
    promoted_at: int | None = None
    last_activity_at: int | None = None
    history: list[Input] = field(default_factory=list)  # canonical order, trimmed to the model's retention
    ledger: list[LedgerEntry] = field(default_factory=list)  # oldest first, at most LEDGER_LIMIT (``to_ledger``)
    seen: RecentIds = field(default_factory=_new_seen)
    alias_of: str | None = None  # an anonymous visitor who turned out to be this prospect
    model_version: str | None = None  # the model the scores were computed under
    sla: sla.SlaClock | None = None  # the response clock of the current promotion
    owner: str | None = None  # the salesperson the CRM says has the lead
    queue: str | None = None  # the queue the lead waits in until an owner takes it
    automation: AutomationState | None = None  # programs, timers and tags of the automation engine; None: untouched


@dataclass(frozen=True, slots=True)
class Scores:
    total: float
    fit: float
    behaviour: float
    dimensions: dict[str, float]


def scores(state: ProspectState, model: ScoringModel, now: int | None = None) -> Scores:
    at = state.clock if now is None else max(now, state.clock)
    behaviour = state.behaviour if at == state.clock else scoring.behaviour(state.behaviour_by_half_life, at)
    dimensions = scoring.dimensions(state.tallies, model, at)
    if state.automation is not None and state.automation.tags:
        dimensions.update(tag_dimensions(state, state.automation.tags))
    return Scores(state.fit + behaviour, state.fit, behaviour, dimensions)


def tag_dimensions(state: ProspectState, tags: dict[str, int]) -> dict[str, float]:
    """A tag is a score dimension too: ``tag:<name>`` counts the behaviour points (ledger entries, without
    decay) the prospect earned since the tag was applied."""
    return {f"tag:{tag}": sum(e.points for e in state.ledger if e.occurred_at >= since
                              and not e.rule_id.startswith(("fit:", "recycle:"))) for tag, since in tags.items()}


class LeadChange(NamedTuple):
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


Effect = Union[LeadChange, Forward, MergeRequest, sla.SlaStep, ActionEffect, ProgramChange, Suppressed]


class Outcome(NamedTuple):
    state: ProspectState  # the input state updated in place, or its replacement after a merge
    effects: tuple[Effect, ...] = ()
    changed: bool = True


def apply(state: ProspectState, item: Input | Tick, model: ScoringModel) -> Outcome:
    if type(item) is Interaction:  # nearly every input, so it is tested first
        if item.event_id in state.seen:
            return Outcome(state, (), False)
        if state.alias_of is not None:
            state.seen.add(item.event_id)
            forwarded = replace(item, prospect_key=state.alias_of, prospect_id=person_id(state.alias_of))
            return Outcome(state, (Forward(forwarded),))
        # An identity.linked event's prospect_id names the key it joins this one to: a person, or a user id
        # for an anonymous visitor. Links point only to more resolved keys, so they never form a cycle.
        if item.type == "identity.linked" and item.prospect_id and \
                resolution(item.prospect_id) > resolution(state.key):
            state.alias_of = item.prospect_id
            state.seen.add(item.event_id)
            return Outcome(state, (MergeRequest(item, tuple(state.history)),))
        return _interaction(state, item, model)
    if isinstance(item, Tick):
        return _tick(state, item, model)
    if item.event_id in state.seen:
        return Outcome(state, (), False)
    return _verdict(state, item, model)


def start_clock(state: ProspectState, model: ScoringModel, at: int) -> tuple[sla.SlaStep, ...]:
    """A promotion starts the model's response clock, if it has one."""
    if model.sla is None:
        return ()
    state.sla, started = sla.start(model.sla, at)
    state.queue, state.owner = model.sla.queue, None
    return (started,)


def cancel_clock(state: ProspectState, at: int) -> tuple[sla.SlaStep, ...]:
    """A demotion cancels the response clock nobody answered."""
    cancelled = sla.cancel(state.sla, at) if state.sla is not None else None
    return (cancelled,) if cancelled is not None else ()


def _interaction(state: ProspectState, event: Interaction, model: ScoringModel) -> Outcome:
    state.model_version = model.version
    at = event.occurred_at
    rules = scoring.fired(state.tallies, event, model)
    previous_clock = state.clock
    clock = at if at > previous_clock else previous_clock
    sums = state.behaviour_by_half_life
    before = state.behaviour
    decayed_only = scoring.behaviour(sums, clock) if clock != previous_clock else before
    after = decayed_only
    if rules or event.traits:
        decayed = before - decayed_only
        running = state.fit + decayed_only
        for rule in rules:
            scoring.record(state.tallies, rule, at)
            scoring.add_behaviour(sums, rule, at)
            gained = rule.points if at == clock else rule.points * decay_factor(clock - at, rule.half_life_ms)
            after += gained  # what scoring.behaviour(sums, clock) now gives, without visiting every sum again
            running += gained
            to_ledger(state, _build(LedgerEntry, (event.event_id, rule.id, rule.points, decayed, running, at)))
            decayed = 0.0
        if event.traits:
            state.profile.update(event.traits)
            refit(state, model, event.event_id, at, decayed, running)
    state.behaviour = after
    for segment in model.segments_by_type.get(event.type, ()):  # a loop, not a comprehension: no frame per event
        if segment.id not in state.segments and segment.condition.matches(event):
            state.segments = tuple(sorted((*state.segments, segment.id)))
    if state.prospect_id is None:
        state.prospect_id = event.prospect_id
    if state.email is None:
        state.email = event.email
    state.clock = clock
    state.version = next_version(state.version, event.received_at)
    if state.last_activity_at is None or at > state.last_activity_at:
        state.last_activity_at = at
    retain(state.history, event, model)
    state.seen.add(event.event_id)
    return _transition(state, model, event.event_id, at, event.received_at, activity=True)


def to_ledger(state: ProspectState, entry: LedgerEntry) -> None:
    """Add a ledger entry; beyond ``LEDGER_LIMIT`` the oldest goes. A list rather than a ``deque(maxlen=...)``:
    a deque takes 760 bytes with one entry, and most of a million names have a handful."""
    ledger = state.ledger
    ledger.append(entry)
    if len(ledger) > LEDGER_LIMIT:
        del ledger[0]


def refit(state: ProspectState, model: ScoringModel, cause: str, at: int, decayed: float, total: float) -> None:
    """Fit recomputed from the whole profile after it changed (traits, an automation's attribute); a change is a
    ledger entry. ``total``: the score before the change, ``decayed``: behaviour lost since the previous entry."""
    fit, state.fit_rules = scoring.fit(state.profile, model)
    if fit != state.fit:
        to_ledger(state, LedgerEntry(cause, "fit:" + "+".join(state.fit_rules), fit - state.fit, decayed,
                                     total + fit - state.fit, at))
        state.fit = fit


def _verdict(state: ProspectState, verdict: CrmFeedback, model: ScoringModel) -> Outcome:
    state.seen.add(verdict.event_id)
    retain(state.history, verdict, model)
    if verdict.occurred_at > state.clock:
        state.clock = verdict.occurred_at
        state.behaviour = scoring.behaviour(state.behaviour_by_half_life, state.clock)
    state.version = next_version(state.version, verdict.received_at)
    stage = lifecycle.after_verdict(state.stage, verdict.type)
    if verdict.owner:
        state.owner = verdict.owner
    if stage is None:
        return Outcome(state)
    answered = sla.respond(state.sla, verdict.occurred_at) if state.sla is not None else None
    clock_steps = (answered,) if answered is not None else ()
    if stage == lifecycle.NURTURE:
        _recycle(state, verdict, model)
        return Outcome(state, (LeadChange("lead.recycled", verdict.event_id, verdict.occurred_at,
                                          verdict.received_at), *clock_steps))
    state.stage = stage
    return Outcome(state, (LeadChange("lead.updated", verdict.event_id, verdict.occurred_at, verdict.received_at),
                           *clock_steps))


def _recycle(state: ProspectState, verdict: CrmFeedback, model: ScoringModel) -> None:
    """Back to nurture; the behaviour score is reset, halved or kept as the model says."""
    factor = RECYCLE_FACTORS[model.recycle_policy]
    before = state.behaviour
    for decaying in (*state.tallies.values(), *state.behaviour_by_half_life.values()):
        decaying.value *= factor
    state.behaviour = scoring.behaviour(state.behaviour_by_half_life, state.clock)
    to_ledger(state, LedgerEntry(verdict.event_id, f"recycle:{model.recycle_policy}", before * factor - before,
                                 0.0, state.fit + before * factor, verdict.occurred_at))
    state.stage = lifecycle.NURTURE


def _tick(state: ProspectState, tick: Tick, model: ScoringModel) -> Outcome:
    """Time passing: the response clock's steps that came due, and the demotion decay may have caused."""
    due: tuple[Effect, ...] = ()
    if state.sla is not None and model.sla is not None and model.sla.id == state.sla.sla_id:
        due = _rerouted(state, sla.advance(state.sla, model.sla, tick.at))
    if tick.at <= state.clock:
        return Outcome(state, due, changed=bool(due))
    state.clock = tick.at
    state.behaviour = scoring.behaviour(state.behaviour_by_half_life, tick.at)
    outcome = _transition(state, model, f"tick:{tick.at}", tick.at, tick.at, activity=False)
    return outcome._replace(effects=due + outcome.effects) if due else outcome


def _rerouted(state: ProspectState, steps: list[sla.SlaStep]) -> tuple[Effect, ...]:
    """A reroute hands the unanswered lead to another queue: the CRM's lead row must say so too."""
    effects: list[Effect] = list(steps)
    for step in steps:
        if step.action == "reroute":
            state.queue, state.owner = step.to, None
            state.version = next_version(state.version, step.at)
            assert state.sla is not None
            effects.append(LeadChange("lead.updated", f"sla:{state.sla.sla_id}/{state.sla.started_at}/{step.level}",
                                      step.at, step.at))
    return tuple(effects)


def reassess(state: ProspectState, model: ScoringModel, cause: str, at: int) -> tuple[Effect, ...]:
    """The stage the state's scores lead to after a change made outside an input (an automation's points or
    attribute): a promotion or demotion, with its clock, or nothing."""
    return _transition(state, model, cause, at, at, activity=False).effects


def _transition(state: ProspectState, model: ScoringModel, cause: str, at: int, received: int,
                activity: bool) -> Outcome:
    stage = lifecycle.after_score(state.stage, state.fit + state.behaviour, model.promote_threshold,
                                  model.demote_threshold, state.prospect_id is not None)
    if stage == lifecycle.LEAD:
        state.stage = stage
        state.promoted_at = at
        return Outcome(state, (LeadChange("lead.promoted", cause, at, received), *start_clock(state, model, at)))
    if stage == lifecycle.NAME:
        state.stage = stage
        return Outcome(state, (LeadChange("lead.demoted", cause, at, received), *cancel_clock(state, at)))
    if activity and state.stage in lifecycle.IN_SALES:
        return _build(Outcome, (state, (_build(LeadChange, ("lead.updated", cause, at, received)),), True))
    return _build(Outcome, (state, (), True))


def next_version(current: int, received_at_ms: int) -> int:
    """Monotonic per prospect, and anchored to receive time so it keeps rising even if the state is lost
    (the embedded broker keeps nothing across restarts) and the CRM's version guard must still accept it."""
    anchored = received_at_ms * 1000
    return anchored if anchored > current else current + 1
