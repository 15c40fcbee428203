"""Which triggers an input fired: what changed between the prospect before and after it.

``unwatched`` is the fast path most inputs take (nothing a trigger, an email's outcome or a
running program's exit watches has changed); ``interaction`` and ``changes`` list the
triggers the input fired (``Fired``), each with why in words, for ``automations`` to run.
A score crossing here is read from the ledger entries the input added, so it is the input's
points that cross a value; decay alone taking a score under a ``below`` value is a timer
(``automations.stored_due``), fired at the moment it happens.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple

from schemas.records import Interaction
from streams.core import automation_model as m
from streams.core import prospect as core
from streams.core.automation_actions import Context, measure
from streams.core.automation_index import ENGAGEMENT_TYPES, Engine, Owner, trigger_of
from streams.core.automation_state import ACTIVE, SentEmail
from streams.core.sla import SlaStep

SUPPRESSING = {"email.unsubscribed": "unsubscribed", "email.complained": "complaint"}
_SLA_TRIGGERS = frozenset({"sla.breached", "sla.escalated"})
_STAGE_OF_LEAD_CHANGE = {"lead.promoted": "promoted", "lead.demoted": "demoted", "lead.recycled": "recycled"}


class Fired(NamedTuple):
    """A trigger that fired: whose, why in words, and for a scheduled change (an SLA step) its own time and id."""

    owner: Owner
    why: str
    at: int | None = None
    cause: str | None = None


def unwatched(engine: Engine, state: core.ProspectState, event: Interaction, effects: tuple, stage: str,
              segments: tuple[str, ...], email: str | None, last: object) -> bool:
    """The fast path: this interaction changed nothing a trigger, an email's outcome or a running program's
    exit watches (no stage, SLA, segment or identity change the file has a trigger for, no interaction a trigger
    matches, no engagement with an email the engine sent, no score change a trigger or a goal could see)."""
    auto = state.automation
    running = auto is not None and auto.wake_at is not None  # a program waits (its exits watch stage and scores)
    if state.stage != stage and (engine.watches_stage or running):
        return False
    for effect in effects:  # a lead's activity (lead.updated) is not a trigger; a stage change or an SLA step is
        if type(effect) is core.LeadChange:
            if effect.kind != "lead.updated" and (engine.watches_stage or running):
                return False
        elif type(effect) is SlaStep and engine.watches_sla and effect.kind in _SLA_TRIGGERS:
            return False
    if (state.segments is not segments and engine.watches_segments) or \
            (email is None and state.email is not None and engine.watches_known):
        return False
    for condition in engine.conditions_by_type.get(event.type, ()):
        if not condition.narrows or condition.matches(event):
            return False
    if event.type in ENGAGEMENT_TYPES:
        if suppression(event) is not None:
            return False
        if event.type != "email.bounced" and auto is not None and auto.email(event.message_id) is not None:
            return False
    ledger = state.ledger
    unscored = (ledger[-1] if ledger else None) is last
    # A goal may name a score, a profile attribute (traits) or a segment: checked after every input that changes one.
    if running and engine.goal_programs and (not unscored or event.traits or state.segments is not segments) and \
            any(r.status == ACTIVE and r.program in engine.goal_programs
                for r in auto.enrollments.values()):  # type: ignore[union-attr]
        return False
    if unscored:
        return True
    if not engine.watches_scores:
        return True
    if engine.scores_any_rule:
        return False
    watched = engine.watched_rules
    return not any(entry.rule_id in watched for entry in added(ledger, last))


def added(ledger: Iterable[core.LedgerEntry], last: object) -> Iterator[core.LedgerEntry]:
    """The ledger entries after ``last`` (the newest entry before the input), newest first."""
    for entry in reversed(ledger):  # type: ignore[call-overload]
        if entry is last:
            return
        yield entry


class Snapshot:
    """What the triggers compare: the prospect just before the input. Scores are not computed here: what an
    input changed in a score is what its ledger entries say (see ``_gained``)."""

    __slots__ = ("stage", "segments", "known", "fit", "last_entry")

    def __init__(self, stage: str, segments: tuple[str, ...], known: bool, fit: float, last_entry: object) -> None:
        self.stage, self.segments, self.known, self.fit, self.last_entry = stage, segments, known, fit, last_entry

    @classmethod
    def of(cls, state: core.ProspectState) -> Snapshot:
        return cls(state.stage, state.segments, state.email is not None, state.fit,
                   state.ledger[-1] if state.ledger else None)

    def new_entries(self, state: core.ProspectState) -> list[core.LedgerEntry]:
        return list(added(state.ledger, self.last_entry))


def suppression(event: Interaction) -> str | None:
    """Why this event ends marketing email to the prospect (unsubscribed, complaint, hard_bounce), or None."""
    if event.type == "email.bounced":
        return "hard_bounce" if event.properties.get("bounce") == "hard" else None
    return SUPPRESSING.get(event.type)


def interaction(ctx: Context, event: Interaction, entries: list[Fired]) -> None:
    auto = ctx.auto
    reason = suppression(event)
    if reason is not None:
        auto.suppressed = auto.suppressed or reason
    if event.type in ("email.opened", "email.clicked") and event.message_id:
        _engagement(ctx, event, entries)
    for owner, trigger in ctx.engine.interactions_by_type.get(event.type, ()):
        if trigger.condition.narrows and not trigger.condition.matches(event):
            continue
        if trigger.count > 1:
            assert trigger.within_ms is not None
            times = [t for t in auto.counts.get(owner.id, []) if t > event.occurred_at - trigger.within_ms]
            times.append(event.occurred_at)
            if len(times) < trigger.count:
                auto.counts[owner.id] = times
                continue
            auto.counts.pop(owner.id, None)  # the next firing needs `count` more
        entries.append(Fired(owner, f"{event.event or event.type}" + (f" x{trigger.count}" if trigger.count > 1 else "")))


def _engagement(ctx: Context, event: Interaction, entries: list[Fired]) -> None:
    """An open or click of an email the engine sent (its message id is the send's action id)."""
    email = ctx.auto.email(event.message_id)
    if email is None:
        return
    outcomes = []
    if email.opened_at is None:
        email.opened_at = event.occurred_at
        outcomes.append("opened")
    if event.type == "email.clicked" and email.clicked_at is None:
        email.clicked_at = event.occurred_at
        outcomes.append("clicked")
    run = ctx.auto.enrollments.get(email.source)
    if run is not None and outcomes:
        run.engaged = True
    for outcome in outcomes:
        entries.extend(Fired(owner, f"{outcome} {email.source} email") for owner in _outcome_owners(ctx, email, outcome)
                       if _within(owner, email, event.occurred_at))


def _outcome_owners(ctx: Context, email: SentEmail, outcome: str) -> list[Owner]:
    out = []
    for owner, trigger in ctx.engine.triggered(m.EmailOutcomeTrigger):
        if trigger.outcome == outcome and trigger.program == email.source and trigger.step in (None, email.step):
            out.append(owner)
    return out


def _within(owner: Owner, email: SentEmail, at: int) -> bool:
    window = getattr(trigger_of(owner), "within_ms", None)
    return window is None or at - email.sent_at <= window


def changes(ctx: Context, before: Snapshot, effects: Iterable[core.Effect], verdict: str | None,
            entries: list[Fired]) -> None:
    state, engine = ctx.state, ctx.engine
    stages: set[str] = set()
    slas: dict[str, tuple[int, str]] = {}
    for effect in effects:
        if isinstance(effect, core.LeadChange) and effect.kind in _STAGE_OF_LEAD_CHANGE:
            stages.add(_STAGE_OF_LEAD_CHANGE[effect.kind])
        elif isinstance(effect, SlaStep) and effect.kind in ("sla.breached", "sla.escalated") and \
                state.sla is not None:
            # dated and named by the clock's schedule, not by the tick that noticed it
            slas.setdefault(effect.kind.split(".")[1], (effect.at, f"sla:{state.sla.sla_id}/{state.sla.started_at}/"
                                                                   f"{effect.kind}/{effect.level}"))
    if verdict in ("disqualified", "lost") and "recycled" in stages:
        stages.add(verdict)
    if state.stage != before.stage and state.stage in ("accepted", "contacted", "won"):
        stages.add(state.stage)
    if not before.known and state.email is not None and ctx.auto.known_at is None:
        ctx.auto.known_at = ctx.at
        entries.extend(Fired(owner, "became a known name") for owner, _ in engine.triggered(m.KnownTrigger))
    if stages:
        for owner, trigger in engine.triggered(m.StageTrigger):
            entries.extend(Fired(owner, f"stage {change}") for change in sorted(trigger.changes & stages))
    if slas:
        for owner, trigger in engine.triggered(m.SlaTrigger):
            entries.extend(Fired(owner, f"SLA {change}", *slas[change])
                           for change in sorted(trigger.changes & set(slas)))
    if state.segments != before.segments:
        for owner, trigger in engine.triggered(m.SegmentTrigger):
            was, now = trigger.segment in before.segments, trigger.segment in state.segments
            if (trigger.change == "entered" and now and not was) or (trigger.change == "left" and was and not now):
                entries.append(Fired(owner, f"segment {trigger.segment} {trigger.change}"))
    new_entries = before.new_entries(state) if engine.watches_scores and \
        (state.ledger[-1] if state.ledger else None) is not before.last_entry else []
    if new_entries:
        ctx.changed()
        for owner, trigger in engine.triggered(m.ScoreTrigger):
            new = measure(ctx, trigger.measure, trigger.dimension)
            old = new - _gained(ctx, new_entries, trigger, before)
            name = trigger.dimension or trigger.measure
            if trigger.above is not None and old < trigger.above <= new:
                entries.append(Fired(owner, f"{name} score rose to {new:.0f} (above {trigger.above:g})"))
            elif trigger.below is not None and old >= trigger.below > new:
                entries.append(Fired(owner, f"{name} score fell to {new:.0f} (below {trigger.below:g})"))


def _gained(ctx: Context, entries: list[core.LedgerEntry], trigger: m.ScoreTrigger, before: Snapshot) -> float:
    """What the new ledger entries added to the trigger's score (so the crossing is this input's, not decay's)."""
    if trigger.measure == "fit":
        return ctx.state.fit - before.fit
    behaviour = [e for e in entries if not e.rule_id.startswith("fit:")]
    if trigger.measure == "total":
        return sum(e.points for e in entries)
    if trigger.measure == "behaviour":
        return sum(e.points for e in behaviour)
    dimension = trigger.dimension or ""
    if dimension.startswith("tag:"):
        since = ctx.auto.tags.get(dimension[4:])
        return 0.0 if since is None else sum(e.points for e in behaviour if e.occurred_at >= since
                                             and not e.rule_id.startswith("recycle:"))
    rules = {rule.id for rule in ctx.engine.dimension_rules.get(dimension, ())}
    return sum(e.points for e in behaviour if e.rule_id in rules)
