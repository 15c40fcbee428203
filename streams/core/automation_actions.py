"""Carrying out an automation's or a program step's actions: conditions, send-time checks, ``Action`` records.

Every action becomes an ``Action`` record with a deterministic id (``automation_model.action_id``),
including the ones the engine applies itself (tag, untag, set_attribute, points, enroll,
unenroll), so the actions topic is the whole story of what automation did. An email is
checked when it is emitted, not when it was decided: suppression (hard bounce, complaint,
unsubscribe), the weekly cap on marketing emails and quiet hours, in which it waits
(``Deferred``) for their end in the prospect's own time zone; it is never dropped for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from schemas.records import Action, Interaction
from streams.core import automation_model as m
from streams.core import scoring
from streams.core.automation_index import Engine
from streams.core.automation_state import (EXITED, WEEK_MS, ActionEffect, AutomationState, Deferred, JournalEntry,
                                           OutcomeWatch, SentEmail, Suppressed)
from streams.core.prospect import LedgerEntry, ProspectState, Scores, refit, scores, tag_dimensions, to_ledger

if TYPE_CHECKING:
    from streams.core.prospect import Effect

CONSENT_YES = ("true", "yes", "1", "granted")
EMITTED, DEFERRED, SUPPRESSED = "emitted", "deferred", "suppressed"  # what became of an action


@dataclass(slots=True)
class Context:
    """One input's (or one timer's) work on one prospect: what fired it and the effects so far."""

    engine: Engine
    state: ProspectState
    auto: AutomationState
    at: int
    cause: str  # the input's event id, or the timer's own id
    why: str  # the trigger in words, for notifications ("stage promoted")
    event: Interaction | None = None
    effects: list[Effect] = field(default_factory=list)
    enroll: list[tuple[str, str]] = field(default_factory=list)  # (program, cause) asked for by enroll actions
    rescored: bool = False  # an action changed a score, an attribute or a tag: triggers may see it
    _scores: Scores | None = None

    def scores(self) -> Scores:
        if self._scores is None:
            self._scores = scores(self.state, self.engine.model, self.at)
        return self._scores

    def changed(self) -> None:
        self._scores = None

    def log(self, kind: str, source: str, detail: str, action_id: str | None = None) -> None:
        self.auto.journal.append(JournalEntry(self.at, kind, source, detail, self.cause, action_id))


# --- conditions -----------------------------------------------------------------------------------------

def measure(ctx: Context, name: str, dimension: str | None) -> float:
    """One score at the context's time, computing only that one (this runs on every input of a prospect when a
    trigger watches a score)."""
    state = ctx.state
    if name == "fit":
        return state.fit
    at = ctx.at if ctx.at > state.clock else state.clock
    if name != "dimension":
        behaviour = state.behaviour if at == state.clock else scoring.behaviour(state.behaviour_by_half_life, at)
        return behaviour if name == "behaviour" else state.fit + behaviour
    assert dimension is not None
    if dimension.startswith("tag:"):
        since = ctx.auto.tags.get(dimension[4:])
        return 0.0 if since is None else tag_dimensions(state, {dimension[4:]: since})[dimension]
    tallies = state.tallies
    return sum(tallies[rule.id].at(at, rule.half_life_ms) for rule in ctx.engine.dimension_rules.get(dimension, ())
               if rule.id in tallies)


def _score_in(ctx: Context, condition: m.ScoreRange) -> bool:
    value = measure(ctx, condition.measure, condition.dimension)
    return (condition.at_least is None or value >= condition.at_least) and \
        (condition.below is None or value < condition.below)


_TESTS: dict[type, Any] = {  # one test per kind of condition
    m.AttributeTest: lambda ctx, c: c.condition.matches(ctx.state.profile),
    m.StageIn: lambda ctx, c: ctx.state.stage in c.stages,
    m.SegmentTest: lambda ctx, c: (c.segment in ctx.state.segments) == c.present,
    m.TagTest: lambda ctx, c: (c.tag in ctx.auto.tags) == c.present,
    m.ScoreRange: _score_in,
    m.Consent: lambda ctx, c: consented(ctx.state, c.purpose),
    m.Known: lambda ctx, c: ctx.state.email is not None,
    m.NotSuppressed: lambda ctx, c: ctx.auto.suppressed is None,
}


def all_hold(ctx: Context, conditions: tuple[m.Condition, ...]) -> bool:
    for condition in conditions:
        if not _TESTS[type(condition)](ctx, condition):
            return False
    return True


def consented(state: ProspectState, purpose: str) -> bool:
    """``<purpose>_consent`` (say ``email_consent``) when the prospect has it, else the forms' ``consent``."""
    value = state.profile.get(f"{purpose}_consent", state.profile.get("consent"))
    return value is not None and value.lower() in CONSENT_YES


def allowed(auto: AutomationState, automation: m.Automation, at: int) -> bool:
    """The automation's frequency for this prospect; records the firing when it is allowed."""
    times = auto.fired.setdefault(automation.id, [])
    frequency = automation.frequency
    if frequency.kind == "once" and times:
        return False
    if frequency.kind == "at_most":
        assert frequency.per_ms is not None and frequency.limit is not None
        times[:] = [t for t in times if t > at - frequency.per_ms]
        if len(times) >= frequency.limit:
            return False
    elif frequency.kind == "every_time":
        times[:] = times[-1:]  # the last firing is enough to show in `explain`
    times.append(at)
    return True


# --- actions --------------------------------------------------------------------------------------------

def perform(ctx: Context, spec: m.ActionSpec, kind: str, source: str, position: str,
            step: str | None = None, enrollment: str | None = None) -> tuple[str, str]:
    """One action of an automation (``kind`` automation, ``position`` its index) or of a program step;
    (its action id, EMITTED, DEFERRED or SUPPRESSED)."""
    engine, state = ctx.engine, ctx.state
    prospect = state.prospect_id or state.key
    action_id = m.action_id(kind, source, engine.file.version, prospect, ctx.cause if enrollment is None
                            else enrollment, position)
    type_ = m.ACTION_TYPE_OF[type(spec)]
    target, payload = _describe(ctx, spec, source)
    action = Action.from_avro({  # every field given: the frozen dataclass __init__ costs three times as much
        "action_id": action_id, "prospect_id": prospect, "type": type_, "source": source, "source_kind": kind,
        "file_version": engine.file.version, "due_at": ctx.at, "occurred_at": ctx.at, "cause_event_id": ctx.cause,
        "step": step, "target": target, "payload": payload, "email": state.email})
    if isinstance(spec, m.SendEmail):
        if (reason := _refused(ctx, spec.transactional)) is not None:
            _suppress(ctx, action, reason)
            return action_id, SUPPRESSED
        wait_until = quiet_until(ctx.engine, state, ctx.at)
        if wait_until is not None:
            deferred = replace(action, due_at=wait_until)
            ctx.auto.deferred.append(Deferred(wait_until, deferred, enrollment))
            ctx.log("action.deferred", source, f"{_what(action)} until {iso(wait_until)} (quiet hours)", action_id)
            return action_id, DEFERRED
    emit(ctx, action, spec)
    return action_id, EMITTED


def emit(ctx: Context, action: Action, spec: m.ActionSpec | None = None) -> None:
    """Apply what the engine does itself, then hand the record to the shell."""
    auto, state = ctx.auto, ctx.state
    if isinstance(spec, (m.Tag, m.Untag, m.SetAttribute, m.Points)):
        ctx.rescored = True
    if isinstance(spec, m.Tag):
        auto.tags.setdefault(spec.tag, ctx.at)
    elif isinstance(spec, m.Untag):
        auto.tags.pop(spec.tag, None)
    elif isinstance(spec, m.SetAttribute):
        state.profile[spec.name] = spec.value
        refit(state, ctx.engine.model, action.action_id, ctx.at, 0.0, state.fit + state.behaviour)
        ctx.changed()
    elif isinstance(spec, m.Points):
        _points(ctx, action.action_id, action.source, spec.points)
    elif isinstance(spec, m.Enroll):
        ctx.enroll.append((spec.program, action.action_id))
    ctx.log("action", action.source, _what(action), action.action_id)
    if isinstance(spec, m.Unenroll):
        from streams.core.programs import leave  # the one cycle between the two: programs perform actions
        leave(ctx, spec.program, EXITED, "unenrolled")
    if action.type == "send_email":
        auto.sent.append(SentEmail(action.action_id, action.source, action.step, ctx.at,
                                   action.payload.get("transactional") != "true"))
        _watch_outcomes(ctx, action)
    ctx.effects.append(ActionEffect(action))


def _what(action: Action) -> str:
    """An action in the journal: its type (the first word, which `leadflow automations` counts by), its target,
    and a program's step."""
    what = f"{action.type} {action.target}" if action.target else action.type
    return f"{what} (step {action.step})" if action.step else what


def _watch_outcomes(ctx: Context, email: Action) -> None:
    """A program email whose negative outcome ("opened but not clicked within 3d") some trigger waits for."""
    if email.source_kind != m.PROGRAM:
        return
    for owner_id, within_ms in ctx.engine.outcome_windows.get((email.source, email.step), ()):
        ctx.auto.watches.append(OutcomeWatch(ctx.at + within_ms, email.action_id, owner_id))


def release(ctx: Context, deferred: Deferred) -> None:
    """A deferred email whose quiet hours are over: checked again, then emitted."""
    action = deferred.action
    reason = _refused(ctx, action.payload.get("transactional") == "true")
    if reason is not None:
        return _suppress(ctx, action, reason)
    emit(ctx, replace(action, occurred_at=ctx.at))


def quiet_until(engine: Engine, state: ProspectState, at: int) -> int | None:
    """The end of the quiet hours ``at`` falls in (epoch ms), in the prospect's time zone; None outside them."""
    return quiet_end(engine, state.profile.get("timezone"), at)


def quiet_end(engine: Engine, timezone_name: str | None, at: int) -> int | None:
    """``quiet_until`` for a time zone name (the action delivery checks again at send time, from the action)."""
    quiet = engine.file.defaults.quiet_hours
    if quiet is None:
        return None
    zone = engine.zone(timezone_name)
    local = datetime.fromtimestamp(at / 1000, zone)
    if not quiet.covers(local.time()):
        return None
    end = datetime.combine(local.date(), quiet.end, zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, zone)
    return round(end.timestamp() * 1000)


def _refused(ctx: Context, transactional: bool) -> str | None:
    auto, state = ctx.auto, ctx.state
    if state.email is None:
        return "no_consent"
    if auto.suppressed is not None:
        return auto.suppressed
    if transactional:
        return None
    cap = ctx.engine.file.defaults.marketing_emails_per_week
    if cap is not None and sum(1 for e in auto.sent if e.marketing and e.sent_at > ctx.at - WEEK_MS) >= cap:
        return "weekly_cap"
    return None


def _suppress(ctx: Context, action: Action, reason: str) -> None:
    ctx.log("action.suppressed", action.source, f"{_what(action)}: {reason}", action.action_id)
    ctx.effects.append(Suppressed(action.type, reason))


def _points(ctx: Context, cause: str, source: str, points: float) -> None:
    """Automation points do not decay; the ledger names the automation or program that gave them."""
    state = ctx.state
    sums = state.behaviour_by_half_life
    current = sums.get(None)
    if current is None:
        sums[None] = scoring.DecayingSum(points, ctx.at)
    else:
        current.add(points, ctx.at, None)
    state.behaviour = scoring.behaviour(sums, max(ctx.at, state.clock))
    to_ledger(state, LedgerEntry(cause, f"automation:{source}", points, 0.0, state.fit + state.behaviour, ctx.at))
    ctx.changed()


def _describe(ctx: Context, spec: m.ActionSpec, source: str) -> tuple[str | None, dict[str, str]]:
    """(target, payload) of an action: who or what it addresses and its parameters, messages rendered."""
    state = ctx.state
    if isinstance(spec, m.Notify):
        message = spec.message or "{email} ({stage}, score {score}): {trigger}"
        return spec.to.target, {"message": render(ctx, message, source), "why": ctx.why, "who": _who(state),
                                **_assignee(state)}
    if isinstance(spec, m.CrmTask):
        calendar = ctx.engine.file.defaults.business_hours
        due = calendar.add(ctx.at, spec.due.ms) if spec.due.business else ctx.at + spec.due.ms
        return spec.to.target, {"title": render(ctx, spec.title, source), "task_due_at": str(due),
                                "why": ctx.why, "who": _who(state), **_assignee(state)}
    if isinstance(spec, m.Webhook):
        return spec.url, {"why": ctx.why, "stage": state.stage, "score": f"{ctx.scores().total:.2f}"}
    if isinstance(spec, m.SendEmail):
        # what the delivery needs at send time without the prospect's state: merge fields, the consent it
        # checks under LEADFLOW_TRACKING_CONSENT=required, the time zone of the quiet hours
        return spec.template, {**{f"profile.{k}": v for k, v in state.profile.items()}, **dict(spec.data),
                               "transactional": str(spec.transactional).lower(),
                               "consent": "true" if consented(state, "email") else "false"}
    if isinstance(spec, (m.Tag, m.Untag)):
        return spec.tag, {}
    if isinstance(spec, m.SetAttribute):
        return spec.name, {"value": spec.value}
    if isinstance(spec, m.Points):
        return None, {"points": f"{spec.points:g}"}
    return spec.program, {}  # enroll, unenroll


def render(ctx: Context, template: str, source: str) -> str:
    """A notify message or task title: placeholders were checked on load; a missing value renders empty."""
    state, event = ctx.state, ctx.event
    values: dict[str, Any] = {
        "email": state.email or "", "prospect_id": state.prospect_id or state.key, "stage": state.stage,
        "score": f"{ctx.scores().total:.0f}", "owner": state.owner or "", "queue": state.queue or "",
        "source": source, "trigger": ctx.why, "event": (event.event or event.type) if event else "",
        "url": (event.url or "") if event else "", "profile": _Profile(state.profile),
    }
    return template.format_map(values)


class _Profile:
    def __init__(self, profile: dict[str, str]) -> None:
        self._profile = profile

    def __getattr__(self, name: str) -> str:
        return self._profile.get(name, "")

    def __getitem__(self, name: str) -> str:
        return self._profile.get(name, "")


def _assignee(state: ProspectState) -> dict[str, str]:
    """Whom ``owner`` means when the action is delivered: the lead's owner and queue as the engine knew them."""
    return {"owner": state.owner or "", "queue": state.queue or ""}


def _who(state: ProspectState) -> str:
    name = " ".join(v for v in (state.profile.get("first_name"), state.profile.get("last_name")) if v)
    return f"{name} <{state.email}>" if name and state.email else (state.email or state.prospect_id or state.key)



def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
