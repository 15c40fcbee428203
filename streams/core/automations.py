"""The automation engine in the stream: ``step(state, input, model, engine)`` = scoring, then automation.

Around the scoring transition (``prospect.apply``) the engine first runs the prospect's
timers due by the input's time (program waits, deferred emails, email-outcome windows,
inactivity), each dated by its schedule, then compares the prospect before and after the
input and fires the triggers that changed: the interaction itself, the prospect becoming
known, a stage change, an SLA step, a segment entered or left, a score crossing a value,
an email's open or click. What the engine's own actions change (points, an attribute)
can promote the prospect; that is scored like any change and may fire triggers in turn
(a few rounds at most). Same inputs and files, same actions, with the same ids.

Automations run for known prospects only (a person's key): an anonymous visitor has
nobody to email or to hand to sales, and its history joins the person's when it is linked.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, NamedTuple

from schemas.records import CrmFeedback, Interaction
from streams.core import automation_model as m
from streams.core import prospect as core
from streams.core.automation_actions import Context, all_hold, allowed, measure, perform, release
from streams.core.automation_index import ENGAGEMENT_TYPES, Engine, Owner, trigger_of
from streams.core.automation_state import ACTIVE, AutomationState, SentEmail
from streams.core.identity import ANON_PREFIX, USER_PREFIX, is_anonymous
from streams.core.programs import advance, check_exits, enroll
from streams.core.sla import SlaStep

MAX_ROUNDS = 4  # an action's effect firing another trigger, and so on
MAX_TIMERS = 10_000  # timers run for one input (a guard: a worker down for months catches up in one tick)
_NOT_A_PERSON = (ANON_PREFIX, USER_PREFIX)  # automations run for people (identity.is_anonymous, inlined)
_SLA_TRIGGERS = frozenset({"sla.breached", "sla.escalated"})
SUPPRESSING = {"email.unsubscribed": "unsubscribed", "email.complained": "complaint"}
_STAGE_OF_LEAD_CHANGE = {"lead.promoted": "promoted", "lead.demoted": "demoted", "lead.recycled": "recycled"}


def runs_for(state: core.ProspectState) -> bool:
    return state.alias_of is None and not is_anonymous(state.key)


def step(state: core.ProspectState, item: core.Input | core.Tick | core.MergeRequest, model: core.ScoringModel,
         engine: Engine | None) -> core.Outcome:
    """The prospect's transition for one input, with what its automations do. Most inputs change nothing an
    automation watches; they cost the engine a handful of comparisons (``bench/core.py --automations both``)."""
    if engine is None or state.alias_of is not None or state.key.startswith(_NOT_A_PERSON):
        return (core.absorb if type(item) is core.MergeRequest else core.apply)(state, item, model)  # type: ignore
    at = item.occurred_at if type(item) is Interaction else _time_of(item)  # type: ignore[union-attr]
    auto = state.automation
    early = run_timers(state, engine, at) if auto is not None and _timer_due(auto, state, engine, at) else ()
    stage, segments, email, fit = state.stage, state.segments, state.email, state.fit
    ledger = state.ledger
    last = ledger[-1] if ledger else None
    outcome = (core.absorb if type(item) is core.MergeRequest else core.apply)(state, item, model)  # type: ignore
    if not early and (not outcome.changed or (type(item) is Interaction and _unwatched(
            engine, state, item, outcome.effects, stage, segments, email, last))):  # type: ignore[arg-type]
        return outcome
    state = outcome.state
    if state.automation is None:
        state.automation = AutomationState()
    before = _Snapshot(stage, segments, email is not None, fit, last)
    event = item.link if isinstance(item, core.MergeRequest) else item if isinstance(item, Interaction) else None
    cause = f"tick:{at}" if isinstance(item, core.Tick) else (event or item).event_id  # type: ignore[union-attr]
    ctx = Context(engine, state, state.automation, at, cause, "", event)
    if outcome.changed:
        _react(ctx, before, item, outcome.effects)
    if not ctx.effects and not early:
        return outcome  # e.g. the first of "twice in a day": counted, nothing else to do
    state.automation.wake_at = stored_due(state.automation)
    return core.Outcome(state, (*early, *outcome.effects, *ctx.effects), True)


def _unwatched(engine: Engine, state: core.ProspectState, event: Interaction, effects: tuple, stage: str,
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
        if event.type in SUPPRESSING or (event.type == "email.bounced" and event.properties.get("bounce") == "hard"):
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
    for entry in reversed(ledger):
        if entry is last:
            return True
        if entry.rule_id in watched:
            return False
    return True


def _timer_due(auto: AutomationState, state: core.ProspectState, engine: Engine, now: int) -> bool:
    if auto.wake_at is not None and auto.wake_at <= now:
        return True
    last = state.last_activity_at
    return engine.min_inactivity_ms is not None and last is not None and last + engine.min_inactivity_ms <= now


def _react(ctx: Context, before: _Snapshot, item: object, effects: Iterable[core.Effect]) -> None:
    """Fire what the input (or timer) changed, then what the engine's own actions changed, a few rounds at
    most: points can promote a prospect, and the promotion is a trigger too. An automation fires at most
    once per input."""
    fired: set[str] = set()
    entries: list[Fired] = []
    if isinstance(item, Interaction) and not item.machine:
        _interaction(ctx, item, entries)
    elif isinstance(item, core.MergeRequest):
        _interaction(ctx, item.link, entries)
    if isinstance(item, (Interaction, CrmFeedback)) and \
            item.received_at - item.occurred_at > ctx.engine.file.defaults.stale_after_ms:
        check_exits(ctx)  # a stale input fires nothing, but an old unsubscribe still ends a program
        return
    verdict = item.type if isinstance(item, CrmFeedback) else None
    for _ in range(MAX_ROUNDS):
        _changes(ctx, before, effects, verdict, entries)
        before, emitted = _Snapshot.of(ctx.state), len(ctx.effects)
        fresh = []
        for entry in entries:
            if entry[0].id not in fired:
                fired.add(entry[0].id)
                fresh.append(Fired(*entry))
        for entry in fresh:
            _fire(ctx, entry)
        if fresh or ctx.enroll:
            _enter_programs(ctx, [entry for entry in fresh if isinstance(entry.owner, m.Program)])
        if ctx.auto.wake_at is not None or len(ctx.effects) > emitted:  # a run is waiting, or one just started
            check_exits(ctx)
        if len(ctx.effects) == emitted or not ctx.rescored:
            return  # nothing, or nothing another trigger could see (the engine's own actions change no score)
        ctx.rescored = False
        reassessed = core.reassess(ctx.state, ctx.engine.model, ctx.cause, ctx.at)
        ctx.effects.extend(reassessed)
        ctx.changed()
        effects, verdict, entries = reassessed, None, []


# --- what changed ---------------------------------------------------------------------------------------

class _Snapshot:
    """What the triggers compare: the prospect just before the input. Scores are not computed here: what an
    input changed in a score is what its ledger entries say (see ``_gained``)."""

    __slots__ = ("stage", "segments", "known", "fit", "last_entry")

    def __init__(self, stage: str, segments: tuple[str, ...], known: bool, fit: float, last_entry: object) -> None:
        self.stage, self.segments, self.known, self.fit, self.last_entry = stage, segments, known, fit, last_entry

    @classmethod
    def of(cls, state: core.ProspectState) -> _Snapshot:
        return cls(state.stage, state.segments, state.email is not None, state.fit,
                   state.ledger[-1] if state.ledger else None)

    def new_entries(self, state: core.ProspectState) -> list[core.LedgerEntry]:
        out = []
        for entry in reversed(state.ledger):
            if entry is self.last_entry:
                break
            out.append(entry)
        return out


def _interaction(ctx: Context, event: Interaction, entries: list[Fired]) -> None:
    auto = ctx.auto
    if event.type in SUPPRESSING or (event.type == "email.bounced" and event.properties.get("bounce") == "hard"):
        auto.suppressed = auto.suppressed or SUPPRESSING.get(event.type, "hard_bounce")
    if event.type in ("email.opened", "email.clicked") and event.message_id:
        _engagement(ctx, event, entries)
    for owner in ctx.engine.interactions_by_type.get(event.type, ()):
        trigger = trigger_of(owner)
        assert isinstance(trigger, m.InteractionTrigger)
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
    for owner in ctx.engine.triggered(m.EmailOutcomeTrigger):
        trigger = trigger_of(owner)
        assert isinstance(trigger, m.EmailOutcomeTrigger)
        if trigger.outcome == outcome and trigger.program == email.source and trigger.step in (None, email.step):
            out.append(owner)
    return out


def _within(owner: Owner, email: SentEmail, at: int) -> bool:
    window = getattr(trigger_of(owner), "within_ms", None)
    return window is None or at - email.sent_at <= window


def _changes(ctx: Context, before: _Snapshot, effects: Iterable[core.Effect], verdict: str | None,
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
        entries.extend(Fired(owner, "became a known name") for owner in engine.triggered(m.KnownTrigger))
    if stages:
        for owner in engine.triggered(m.StageTrigger):
            trigger = trigger_of(owner)
            assert isinstance(trigger, m.StageTrigger)
            entries.extend(Fired(owner, f"stage {change}") for change in sorted(trigger.changes & stages))
    if slas:
        for owner in engine.triggered(m.SlaTrigger):
            trigger = trigger_of(owner)
            assert isinstance(trigger, m.SlaTrigger)
            entries.extend(Fired(owner, f"SLA {change}", *slas[change])
                           for change in sorted(trigger.changes & set(slas)))
    if state.segments != before.segments:
        for owner in engine.triggered(m.SegmentTrigger):
            trigger = trigger_of(owner)
            assert isinstance(trigger, m.SegmentTrigger)
            was, now = trigger.segment in before.segments, trigger.segment in state.segments
            if (trigger.change == "entered" and now and not was) or (trigger.change == "left" and was and not now):
                entries.append(Fired(owner, f"segment {trigger.segment} {trigger.change}"))
    new_entries = before.new_entries(state) if engine.watches_scores and \
        (state.ledger[-1] if state.ledger else None) is not before.last_entry else []
    if new_entries:
        ctx.changed()
        for owner in engine.triggered(m.ScoreTrigger):
            trigger = trigger_of(owner)
            assert isinstance(trigger, m.ScoreTrigger)
            new = measure(ctx, trigger.measure, trigger.dimension)
            old = new - _gained(ctx, new_entries, trigger, before)
            name = trigger.dimension or trigger.measure
            if trigger.above is not None and old < trigger.above <= new:
                entries.append(Fired(owner, f"{name} score rose to {new:.0f} (above {trigger.above:g})"))
            elif trigger.below is not None and old >= trigger.below > new:
                entries.append(Fired(owner, f"{name} score fell to {new:.0f} (below {trigger.below:g})"))


def _gained(ctx: Context, entries: list[core.LedgerEntry], trigger: m.ScoreTrigger, before: _Snapshot) -> float:
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


# --- firing ---------------------------------------------------------------------------------------------

class Fired(NamedTuple):
    """A trigger that fired: whose, why in words, and for a scheduled change (an SLA step) its own time and id."""

    owner: Owner
    why: str
    at: int | None = None
    cause: str | None = None


@contextmanager
def _moment(ctx: Context, entry: Fired) -> Iterator[None]:
    saved = ctx.at, ctx.cause, ctx.why
    ctx.at, ctx.cause, ctx.why = entry.at or ctx.at, entry.cause or ctx.cause, entry.why
    try:
        yield
    finally:
        ctx.at, ctx.cause, ctx.why = saved
        ctx.changed()


def _fire(ctx: Context, entry: Fired) -> None:
    """An automation's trigger fired: its conditions, its frequency, then its actions in order."""
    owner = entry.owner
    if not isinstance(owner, m.Automation):
        return
    with _moment(ctx, entry):
        if not all_hold(ctx, owner.conditions) or not allowed(ctx.auto, owner, ctx.at):
            return
        ctx.log("automation.fired", owner.id, entry.why)
        for position, spec in enumerate(owner.actions):
            perform(ctx, spec, m.AUTOMATION, owner.id, str(position))


def _enter_programs(ctx: Context, candidates: list[Fired]) -> None:
    """Programs whose entry fired: the highest priority one the prospect qualifies for (file order breaks
    ties); then every program an ``enroll`` action named."""
    ranked = sorted((c for c in candidates if isinstance(c.owner, m.Program)), key=lambda c: -c.owner.priority)
    for entry in ranked:
        with _moment(ctx, entry):
            if enroll(ctx, entry.owner, ctx.cause):  # type: ignore[arg-type]
                break
    requested, ctx.enroll = ctx.enroll, []
    for program_id, cause in requested:
        program = ctx.engine.programs.get(program_id)
        if program is not None:
            ctx.why = f"enrolled by {cause}"
            enroll(ctx, program, cause)


# --- timers ---------------------------------------------------------------------------------------------

def due(state: core.ProspectState, engine: Engine) -> int | None:
    """When the engine next has something to do for this prospect without an input; None: nothing."""
    auto = state.automation
    if auto is None or not runs_for(state):
        return None
    times = [] if auto.wake_at is None else [auto.wake_at]
    if state.last_activity_at is not None:
        for owner in engine.triggered(m.InactivityTrigger):
            trigger = trigger_of(owner)
            assert isinstance(trigger, m.InactivityTrigger)
            if auto.inactive_fired.get(owner.id) != state.last_activity_at:
                times.append(state.last_activity_at + trigger.for_ms)
    return min(times, default=None)


def stored_due(auto: AutomationState) -> int | None:
    """The next of the timers kept in the state (waits, deferrals, outcome windows); inactivity is derived."""
    times = [run.due_at for run in auto.enrollments.values() if run.status == ACTIVE and run.due_at is not None]
    times += [d.due_at for d in auto.deferred]
    times += [w.due_at for w in auto.watches]
    return min(times, default=None)


def run_timers(state: core.ProspectState, engine: Engine, now: int) -> list[core.Effect]:
    """Every timer due by ``now``, oldest first, each at its own time."""
    effects: list[core.Effect] = []
    auto = state.automation
    for _ in range(MAX_TIMERS):
        at = due(state, engine) if auto is not None else None
        if at is None or at > now:
            return effects
        assert auto is not None
        ctx = Context(engine, state, auto, at, f"timer:{at}", "")
        before = _Snapshot.of(state)
        _run_one(ctx, at)
        _enter_programs(ctx, [])
        _react(ctx, before, None, list(ctx.effects))
        auto.wake_at = stored_due(auto)
        effects.extend(ctx.effects)
    return effects


def _run_one(ctx: Context, at: int) -> None:
    auto, state, engine = ctx.auto, ctx.state, ctx.engine
    for run in auto.enrollments.values():
        if run.status == ACTIVE and run.due_at == at:
            program = engine.programs.get(run.program)
            if program is None:
                check_exits(ctx)
                continue
            ctx.cause, ctx.why = f"{run.enrollment_id}/step{run.next_step + 1}", f"{program.id} wait over"
            advance(ctx, program, run)
            return
    for deferred in auto.deferred:
        if deferred.due_at == at:
            auto.deferred.remove(deferred)
            ctx.cause, ctx.why = deferred.action.cause_event_id, "quiet hours over"
            release(ctx, deferred)
            return
    for watch in auto.watches:
        if watch.due_at == at:
            auto.watches.remove(watch)
            email, owner = auto.email(watch.email), engine.owners.get(watch.owner)
            trigger = trigger_of(owner) if owner is not None else None
            if email is None or not isinstance(trigger, m.EmailOutcomeTrigger):
                return
            opened, clicked = email.opened_at is not None, email.clicked_at is not None
            holds = {"not_opened": not opened, "not_clicked": not clicked,
                     "opened_not_clicked": opened and not clicked}.get(trigger.outcome, False)
            if holds:
                ctx.cause, why = f"{email.action_id}/{trigger.outcome}", f"{trigger.outcome} {email.source} email"
                _fire(ctx, Fired(owner, why))  # type: ignore[arg-type]
                _enter_programs(ctx, [Fired(owner, why)])  # type: ignore[arg-type]
            return
    for owner in engine.triggered(m.InactivityTrigger):
        trigger = trigger_of(owner)
        assert isinstance(trigger, m.InactivityTrigger) and state.last_activity_at is not None
        if auto.inactive_fired.get(owner.id) != state.last_activity_at and \
                state.last_activity_at + trigger.for_ms == at:
            auto.inactive_fired[owner.id] = state.last_activity_at
            ctx.cause = f"inactive:{owner.id}/{state.last_activity_at}"
            why = f"no interaction for {trigger.for_ms // 86_400_000}d" if trigger.for_ms % 86_400_000 == 0 \
                else f"no interaction for {trigger.for_ms // 1000}s"
            _fire(ctx, Fired(owner, why))
            _enter_programs(ctx, [Fired(owner, why)])
            return


def _time_of(item: object) -> int:
    if isinstance(item, core.Tick):
        return item.at
    if isinstance(item, core.MergeRequest):
        return item.link.occurred_at
    return item.occurred_at  # type: ignore[attr-defined]
