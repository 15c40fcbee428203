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

from typing import Iterable

from schemas.records import CrmFeedback, Interaction
from streams.core import automation_model as m
from streams.core import prospect as core
from streams.core.automation_actions import Context, all_hold, allowed, measure, perform, release
from streams.core.automation_index import Engine, Owner, trigger_of
from streams.core.automation_state import ACTIVE, AutomationState, JournalEntry
from streams.core.automation_triggers import Fired, Snapshot, changes, interaction, unwatched
from streams.core.decay import first_below
from streams.core.durations import format_duration_ms
from streams.core.identity import NOT_A_PERSON, is_anonymous
from streams.core.programs import advance, check_exits, enroll
from streams.core.recompute import absorb

DELIVERY_REPORT = "action.suppressed"  # the action delivery's word that it did not send an action at send time
MAX_ROUNDS = 4  # an action's effect firing another trigger, and so on
DECAY_HORIZON_MS = 5 * 365 * 86_400_000  # a score that stays above a trigger's value this long has no timer for it
MAX_TIMERS = 10_000  # timers run for one input (a guard: a worker down for months catches up in one tick)


def runs_for(state: core.ProspectState) -> bool:
    return state.alias_of is None and not is_anonymous(state.key)


def step(state: core.ProspectState, item: core.Input | core.Tick | core.MergeRequest, model: core.ScoringModel,
         engine: Engine | None) -> core.Outcome:
    """The prospect's transition for one input, with what its automations do. Most inputs change nothing an
    automation watches; they cost the engine a handful of comparisons (``bench/core.py --automations both``)."""
    # runs_for, inlined: this is the core's path for every input
    if engine is None or state.alias_of is not None or state.key.startswith(NOT_A_PERSON):
        return (absorb if type(item) is core.MergeRequest else core.apply)(state, item, model)  # type: ignore
    if type(item) is Interaction:
        if item.type == DELIVERY_REPORT:  # type: ignore[union-attr]
            return delivery_report(state, item)  # type: ignore[arg-type]
        at = item.occurred_at  # type: ignore[union-attr]
    else:
        at = _time_of(item)
    auto = state.automation
    early = run_timers(state, engine, at) if auto is not None and _timer_due(auto, state, engine, at) else ()
    stage, segments, email, fit = state.stage, state.segments, state.email, state.fit
    ledger = state.ledger
    last = ledger[-1] if ledger else None
    outcome = (absorb if type(item) is core.MergeRequest else core.apply)(state, item, model)  # type: ignore
    if not early and (not outcome.changed or (type(item) is Interaction and unwatched(
            engine, state, item, outcome.effects, stage, segments, email, last))):  # type: ignore[arg-type]
        return outcome
    state = outcome.state
    if state.automation is None:
        state.automation = AutomationState()
    before = Snapshot(stage, segments, email is not None, fit, last)
    event = item.link if isinstance(item, core.MergeRequest) else item if isinstance(item, Interaction) else None
    cause = f"tick:{at}" if isinstance(item, core.Tick) else (event or item).event_id  # type: ignore[union-attr]
    ctx = Context(engine, state, state.automation, at, cause, "", event)
    if outcome.changed:
        _react(ctx, before, item, outcome.effects)
    if not ctx.effects and not early and not engine.decay_crossings:
        return outcome  # e.g. the first of "twice in a day": counted, nothing else to do
    state.automation.wake_at = stored_due(state, engine)
    return core.Outcome(state, (*early, *outcome.effects, *ctx.effects), True)


def delivery_report(state: core.ProspectState, report: Interaction) -> core.Outcome:
    """The action delivery refused an action at send time (an unsubscribe that arrived after it was emitted,
    the weekly cap, no consent): a journal line like the engine's own suppressions, so ``explain`` and the
    prospect API show it. Not an interaction of the prospect's: no score, no activity, no trigger."""
    if report.event_id in state.seen:
        return core.Outcome(state, (), False)
    state.seen.add(report.event_id)
    if state.automation is None:
        state.automation = AutomationState()
    props = report.properties
    what = f"{props.get('type', 'action')} {props.get('target', '')}".strip()
    state.automation.journal.append(JournalEntry(report.occurred_at, DELIVERY_REPORT, props.get("source", ""),
                                                 f"{what}: {props.get('reason', '')} (at send time)",
                                                 report.event_id, report.message_id))
    return core.Outcome(state, (), True)


def _timer_due(auto: AutomationState, state: core.ProspectState, engine: Engine, now: int) -> bool:
    if auto.wake_at is not None and auto.wake_at <= now:
        return True
    last = state.last_activity_at
    return engine.min_inactivity_ms is not None and last is not None and last + engine.min_inactivity_ms <= now


def _react(ctx: Context, before: Snapshot, item: object, effects: Iterable[core.Effect]) -> None:
    """Fire what the input (or timer) changed, then what the engine's own actions changed, a few rounds at
    most: points can promote a prospect, and the promotion is a trigger too. An automation fires at most
    once per input."""
    fired: set[str] = set()
    entries: list[Fired] = []
    if isinstance(item, Interaction) and not item.machine:
        interaction(ctx, item, entries)
    elif isinstance(item, core.MergeRequest):
        interaction(ctx, item.link, entries)
    if isinstance(item, (Interaction, CrmFeedback)) and \
            item.received_at - item.occurred_at > ctx.engine.file.defaults.stale_after_ms:
        check_exits(ctx)  # a stale input fires nothing, but an old unsubscribe still ends a program
        return
    verdict = item.type if isinstance(item, CrmFeedback) else None
    for _ in range(MAX_ROUNDS):
        changes(ctx, before, effects, verdict, entries)
        before, emitted = Snapshot.of(ctx.state), len(ctx.effects)
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


# --- firing ---------------------------------------------------------------------------------------------

class _Moment:
    """Runs a fired trigger at its own time and cause (a scheduled SLA step), then restores the context's."""

    __slots__ = ("ctx", "entry", "saved")

    def __init__(self, ctx: Context, entry: Fired) -> None:
        self.ctx, self.entry = ctx, entry

    def __enter__(self) -> None:
        ctx, entry = self.ctx, self.entry
        self.saved = ctx.at, ctx.cause, ctx.why
        ctx.at, ctx.cause, ctx.why = entry.at or ctx.at, entry.cause or ctx.cause, entry.why

    def __exit__(self, *exc: object) -> None:
        ctx = self.ctx
        ctx.at, ctx.cause, ctx.why = self.saved
        if self.entry.at is not None:
            ctx.changed()


def _fire(ctx: Context, entry: Fired) -> None:
    """An automation's trigger fired: its conditions, its frequency, then its actions in order."""
    owner = entry.owner
    if not isinstance(owner, m.Automation):
        return
    with _Moment(ctx, entry):
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
        with _Moment(ctx, entry):
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
        for owner, trigger in engine.triggered(m.InactivityTrigger):
            if auto.inactive_fired.get(owner.id) != state.last_activity_at:
                times.append(state.last_activity_at + trigger.for_ms)
    return min(times, default=None)


def stored_due(state: core.ProspectState, engine: Engine) -> int | None:
    """The next of the timers kept in the state (waits, deferrals, outcome windows) and of the moments decay
    takes a watched score under a trigger's value; kept as ``wake_at``, so most inputs skip the timers at the
    cost of one comparison. Inactivity is derived from the last activity instead."""
    auto = state.automation
    assert auto is not None
    times = [run.due_at for run in auto.enrollments.values() if run.status == ACTIVE and run.due_at is not None]
    times += [d.due_at for d in auto.deferred]
    times += [w.due_at for w in auto.watches]
    for owner, trigger in engine.decay_crossings:
        at = _decay_crossing(state, engine, owner.id, trigger)
        if at is not None:
            times.append(at)
    return min(times, default=None)


def _decay_crossing(state: core.ProspectState, engine: Engine, owner_id: str, trigger: m.ScoreTrigger) -> int | None:
    """When decay alone takes the trigger's score under its ``below`` value; None if it is under already (it
    fired, or points took it there: an input's crossing fires with the input) or will not be within the horizon."""
    auto = state.automation
    assert auto is not None and trigger.below is not None
    start = max(state.clock, auto.crossed.get(owner_id, state.clock))
    ctx = Context(engine, state, auto, start, "", "")

    def value_at(at: int) -> float:
        ctx.at = at
        return measure(ctx, trigger.measure, trigger.dimension)

    if value_at(start) < trigger.below:
        return None
    return first_below(value_at, start, trigger.below, DECAY_HORIZON_MS)


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
        before = Snapshot.of(state)
        _run_one(ctx, at)
        _enter_programs(ctx, [])
        _react(ctx, before, None, list(ctx.effects))
        auto.wake_at = stored_due(state, engine)
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
                ctx.cause = f"{email.action_id}/{trigger.outcome}"
                _timer_fired(ctx, owner, f"{trigger.outcome} {email.source} email")  # type: ignore[arg-type]
            return
    for owner, trigger in engine.triggered(m.InactivityTrigger) if state.last_activity_at is not None else ():
        if auto.inactive_fired.get(owner.id) != state.last_activity_at and \
                state.last_activity_at + trigger.for_ms == at:
            auto.inactive_fired[owner.id] = state.last_activity_at
            ctx.cause = f"inactive:{owner.id}/{state.last_activity_at}"
            _timer_fired(ctx, owner, f"no interaction for {format_duration_ms(trigger.for_ms)}")
            return
    for owner, trigger in engine.decay_crossings:
        if _decay_crossing(state, engine, owner.id, trigger) == at:
            auto.crossed[owner.id] = at
            ctx.cause = f"decay:{owner.id}/{at}"
            _timer_fired(ctx, owner, f"{trigger.dimension or trigger.measure} score decayed below {trigger.below:g}")
            return


def _timer_fired(ctx: Context, owner: Owner, why: str) -> None:
    """A trigger a timer fired (an email's outcome, inactivity, a decay crossing): an automation runs its actions,
    a program's entry enrolls the prospect."""
    _fire(ctx, Fired(owner, why))
    _enter_programs(ctx, [Fired(owner, why)])


def _time_of(item: object) -> int:
    if isinstance(item, core.Tick):
        return item.at
    if isinstance(item, core.MergeRequest):
        return item.link.occurred_at
    return item.occurred_at  # type: ignore[attr-defined]
