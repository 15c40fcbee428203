from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from streams.core.business_hours import BusinessCalendar
from streams.core.sla import BREACHED, MET, Escalation, SlaPolicy, advance, next_due, respond, start
from tests.streams.core.test_business_hours import HOUR, at

POLICY = SlaPolicy("first-response", 4 * HOUR, BusinessCalendar("Europe/Berlin", holidays=frozenset({date(2026, 12, 24)})),
                   (Escalation(2 * HOUR, "reroute", "queue:inside-sales-2"),
                    Escalation(4 * HOUR, "notify", "manager@example.com")))
PROMOTED = at(2026, 11, 20, 16, 0)  # Friday: due Monday 12:00
DUE = at(2026, 11, 23, 12, 0)


def test_promotion_starts_a_clock_due_in_business_time():
    clock, step = start(POLICY, PROMOTED)
    assert step.kind == "sla.started" and clock.due_at == DUE and next_due(clock, POLICY) == DUE


def test_a_response_before_the_deadline_meets_it_and_nothing_fires_later():
    clock, _ = start(POLICY, PROMOTED)
    assert respond(clock, DUE - 1).kind == "sla.met"
    assert clock.status == MET and advance(clock, POLICY, DUE + 100 * HOUR) == []
    assert respond(clock, DUE) is None  # only the first response counts


def test_a_missed_deadline_breaches_then_escalates_in_business_time():
    clock, _ = start(POLICY, PROMOTED)
    assert advance(clock, POLICY, DUE - 1) == []
    [breach] = advance(clock, POLICY, DUE + 5)
    assert breach.kind == "sla.breached" and breach.at == DUE and clock.status == BREACHED
    [reroute] = advance(clock, POLICY, at(2026, 11, 23, 14, 0))
    assert (reroute.kind, reroute.at, reroute.level, reroute.action, reroute.to) == (
        "sla.escalated", at(2026, 11, 23, 14, 0), 1, "reroute", "queue:inside-sales-2")
    assert clock.owner == "queue:inside-sales-2"
    [notify] = advance(clock, POLICY, at(2026, 11, 24, 9, 0))  # 4 business hours after 12:00 Monday
    assert (notify.at, notify.level, notify.action) == (at(2026, 11, 23, 16, 0), 2, "notify")
    assert advance(clock, POLICY, at(2027, 1, 1, 0, 0)) == [] and next_due(clock, POLICY) is None


def test_a_worker_down_across_the_deadline_fires_every_missed_step_at_once_dated_by_the_schedule():
    clock, _ = start(POLICY, PROMOTED)
    steps = advance(clock, POLICY, at(2026, 11, 30, 9, 0))
    assert [(s.kind, s.at) for s in steps] == [("sla.breached", DUE), ("sla.escalated", at(2026, 11, 23, 14, 0)),
                                               ("sla.escalated", at(2026, 11, 23, 16, 0))]


def test_a_late_response_stops_the_escalation_without_meeting_the_sla():
    clock, _ = start(POLICY, PROMOTED)
    advance(clock, POLICY, DUE)
    assert respond(clock, DUE + HOUR) is None
    assert clock.status == BREACHED and clock.responded_at == DUE + HOUR and advance(clock, POLICY, DUE + 99 * HOUR) == []


@given(st.lists(st.integers(min_value=0, max_value=300 * HOUR), min_size=1, max_size=8))
def test_checking_often_or_once_gives_the_same_steps(offsets):
    """Steps depend on the schedule, not on how often the worker looks: restarts change nothing."""
    often, _ = start(POLICY, PROMOTED)
    once, _ = start(POLICY, PROMOTED)
    seen = [step for offset in sorted(offsets) for step in advance(often, POLICY, PROMOTED + offset)]
    assert seen == advance(once, POLICY, PROMOTED + max(offsets)) and often == once
