"""The sales-response SLA clock: started by a promotion, met by the CRM's first response, else breached
at its deadline and escalated step by step.

Every step is dated by the schedule, not by when a worker noticed it: a worker that was
down across a deadline emits the breach at once on start, with the deadline as its
time, so replays and restarts produce the same steps with the same ids. The worker keeps
open clocks in the prospect state and asks ``advance`` for what is due (no timers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from streams.core.business_hours import BusinessCalendar

OPEN, MET, BREACHED, CANCELLED = "open", "met", "breached", "cancelled"


@dataclass(frozen=True, slots=True)
class Escalation:
    after_ms: int  # business time after the deadline
    action: str  # "reroute" (to a second owner or queue) or "notify" (a manager)
    to: str


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    id: str
    respond_within_ms: int  # business time
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    escalations: tuple[Escalation, ...] = ()
    queue: str | None = None  # where a new lead waits for its first response


@dataclass(slots=True)
class SlaClock:
    sla_id: str
    started_at: int
    due_at: int
    status: str = OPEN
    met_at: int | None = None
    breached_at: int | None = None
    responded_at: int | None = None  # the first response, before or after the deadline
    escalation_level: int = 0  # escalation steps taken so far
    owner: str | None = None  # where the last reroute sent the lead


class SlaStep(NamedTuple):
    """An effect: one ``SlaEvent`` for ``leadflow.sla`` and an update of the clock's CRM row."""

    kind: str  # sla.started, sla.met, sla.breached, sla.escalated or sla.cancelled
    at: int
    level: int = 0
    action: str | None = None
    to: str | None = None


def start(policy: SlaPolicy, at: int) -> tuple[SlaClock, SlaStep]:
    clock = SlaClock(policy.id, at, policy.calendar.add(at, policy.respond_within_ms))
    return clock, SlaStep("sla.started", at)


def respond(clock: SlaClock, at: int) -> SlaStep | None:
    """The CRM's first verdict on the lead (accepted, contacted, or an outright disqualified, won or lost:
    someone looked at it): met if on time; after a breach it stops the escalation and records the time."""
    if clock.responded_at is not None:
        return None
    clock.responded_at = at
    if clock.status == OPEN and at <= clock.due_at:
        clock.status, clock.met_at = MET, at
        return SlaStep("sla.met", at)
    return None


def cancel(clock: SlaClock, at: int) -> SlaStep | None:
    """The lead left sales before anyone answered (demoted by decay): nobody owes it a response any more."""
    if clock.status != OPEN or clock.responded_at is not None:
        return None
    clock.status = CANCELLED
    return SlaStep("sla.cancelled", at)


def next_due(clock: SlaClock, policy: SlaPolicy) -> int | None:
    """When the clock next has something to say; None once it has nothing left to do."""
    if clock.responded_at is not None:
        return None
    if clock.status == OPEN:
        return clock.due_at
    if clock.status == BREACHED and clock.escalation_level < len(policy.escalations):
        step = policy.escalations[clock.escalation_level]
        return policy.calendar.add(clock.due_at, step.after_ms)
    return None


def advance(clock: SlaClock, policy: SlaPolicy, now: int) -> list[SlaStep]:
    """Every step due by ``now``, each dated when it was due."""
    steps = []
    while (due := next_due(clock, policy)) is not None and due <= now:
        if clock.status == OPEN:
            clock.status, clock.breached_at = BREACHED, due
            steps.append(SlaStep("sla.breached", due))
        else:
            escalation = policy.escalations[clock.escalation_level]
            clock.escalation_level += 1
            if escalation.action == "reroute":
                clock.owner = escalation.to
            steps.append(SlaStep("sla.escalated", due, clock.escalation_level, escalation.action, escalation.to))
    return steps
