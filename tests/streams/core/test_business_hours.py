from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.business_hours import BusinessCalendar, NoBusinessTime

HOUR = 3_600_000
BERLIN = BusinessCalendar("Europe/Berlin", holidays=frozenset({date(2026, 12, 24), date(2026, 12, 25)}))


def at(*parts: int, zone: str = "Europe/Berlin") -> int:
    return int(datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def test_friday_afternoon_plus_four_hours_is_monday_noon():
    assert BERLIN.add(at(2026, 11, 20, 16, 0), 4 * HOUR) == at(2026, 11, 23, 12, 0)


def test_outside_hours_the_clock_starts_at_the_next_opening():
    assert BERLIN.add(at(2026, 11, 21, 10, 0), 1 * HOUR) == at(2026, 11, 23, 10, 0)  # Saturday
    assert BERLIN.add(at(2026, 11, 23, 7, 30), 0) == at(2026, 11, 23, 9, 0)  # early Monday
    assert BERLIN.add(at(2026, 11, 23, 17, 0), 1) == at(2026, 11, 24, 9, 0) + 1  # at closing


def test_holidays_are_skipped():
    assert BERLIN.add(at(2026, 12, 23, 16, 0), 2 * HOUR) == at(2026, 12, 28, 10, 0)


def test_hours_follow_the_wall_clock_across_a_dst_change():
    # Berlin leaves summer time on Sunday 2026-10-25: 09:00 is 07:00 UTC before and 08:00 UTC after.
    assert BERLIN.add(at(2026, 10, 23, 16, 30), HOUR) == at(2026, 10, 26, 9, 30)
    assert at(2026, 10, 26, 9, 30) == int(datetime(2026, 10, 26, 8, 30, tzinfo=timezone.utc).timestamp() * 1000)


def test_round_the_clock_and_weekend_shifts():
    always = BusinessCalendar("UTC", frozenset(range(7)), time(0), None)
    start = at(2026, 11, 21, 23, 0, zone="UTC")
    assert always.add(start, 5 * HOUR) == start + 5 * HOUR
    weekend = BusinessCalendar("UTC", frozenset({5, 6}), time(10), time(12))
    assert weekend.add(at(2026, 11, 23, 0, 0, zone="UTC"), 3 * HOUR) == at(2026, 11, 29, 11, 0, zone="UTC")


def test_a_calendar_without_working_time_says_so():
    with pytest.raises(NoBusinessTime):
        BusinessCalendar("UTC", frozenset()).add(0, HOUR)


instants = st.integers(min_value=at(2025, 1, 1), max_value=at(2028, 1, 1))
durations = st.integers(min_value=0, max_value=200 * HOUR)


@given(instants, durations)
def test_elapsed_business_time_undoes_add(start, duration):
    due = BERLIN.add(start, duration)
    assert due >= start and BERLIN.elapsed(start, due) == duration


@given(instants, durations, durations.filter(bool))
def test_adding_in_two_steps_lands_where_one_step_does(start, first, second):
    """(With 0 the second step would move a deadline that fell on a closing time to the next opening.)"""
    assert BERLIN.add(BERLIN.add(start, first), second) == BERLIN.add(start, first + second)


@given(instants, durations, durations)
def test_longer_durations_never_end_earlier(start, shorter, extra):
    assert BERLIN.add(start, shorter + extra) >= BERLIN.add(start, shorter)


@given(instants, st.integers(min_value=1, max_value=200 * HOUR))
def test_a_deadline_falls_within_business_hours(start, duration):
    due = datetime.fromtimestamp(BERLIN.add(start, duration) / 1000, ZoneInfo("Europe/Berlin"))
    assert due.weekday() < 5 and due.date() not in BERLIN.holidays
    assert time(9, 0) < due.time() <= time(17, 0)
