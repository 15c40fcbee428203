"""Business time: the clock a sales-response SLA runs on (time zone, working days, daily hours, holidays).

"Respond within 4 business hours" for a lead promoted on Friday at 16:00 in Berlin,
with 09:00-17:00 on weekdays, is due on Monday at 12:00 (or Tuesday, if Monday is a
holiday). Hours are local, so a DST change moves them with the wall clock. All instants
are epoch milliseconds UTC, like every time in leadflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_DAYS = 3 * 366  # a calendar with no working day in three years is a configuration error


class NoBusinessTime(ValueError):
    """The calendar has no working time within the search horizon."""


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    timezone: str = "UTC"
    days: frozenset[int] = frozenset(range(5))  # 0 = Monday, as date.weekday()
    opens: time = time(9, 0)
    closes: time | None = time(17, 0)  # None: midnight at the end of the day ("24:00")
    holidays: frozenset[date] = frozenset()

    def add(self, start_ms: int, duration_ms: int) -> int:
        """The instant ``duration_ms`` of business time after ``start_ms``; with 0, the next business moment."""
        remaining = duration_ms
        for open_ms, close_ms in self.intervals(start_ms):
            begin = max(open_ms, start_ms)
            if close_ms - begin >= remaining:
                return begin + remaining
            remaining -= close_ms - begin
        raise NoBusinessTime(f"no business time within {_SEARCH_DAYS} days of {start_ms}")

    def elapsed(self, start_ms: int, end_ms: int) -> int:
        """Business time between two instants (0 when ``end_ms`` is not after ``start_ms``)."""
        total = 0
        if end_ms <= start_ms:
            return 0
        for open_ms, close_ms in self.intervals(start_ms):
            if open_ms >= end_ms:
                break
            total += min(close_ms, end_ms) - max(open_ms, start_ms)
        return total

    def intervals(self, from_ms: int) -> Iterator[tuple[int, int]]:
        """Working intervals (open, close) in time order, the first one ending after ``from_ms``."""
        zone = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(from_ms / 1000, zone).date() - timedelta(days=1)  # a late shift may span it
        for _ in range(_SEARCH_DAYS):
            if day.weekday() in self.days and day not in self.holidays:
                opens = _epoch_ms(datetime.combine(day, self.opens, zone))
                closes = _epoch_ms(datetime.combine(day + timedelta(days=1), time(0), zone) if self.closes is None
                                   else datetime.combine(day, self.closes, zone))
                if closes > from_ms and closes > opens:
                    yield opens, closes
            day += timedelta(days=1)


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
