"""Event times and the one bound on how far into the future they may be."""

import pytest

from schemas.timestamps import FutureTime, epoch_ms, latest, not_future

NOW = 1_767_000_000_000
LATEST = latest(NOW, 86400)


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59Z", NOW + 86_400_001, "2026-01-01T00:00:00+00:00"])
def test_an_event_beyond_the_skew_is_refused(raw):
    with pytest.raises(FutureTime, match="in the future"):
        epoch_ms(raw, NOW, LATEST)


@pytest.mark.parametrize("raw, expected", [
    ("2001-09-09T01:46:40Z", 1_000_000_000_000), (NOW + 86_400_000, NOW + 86_400_000), (None, NOW),
    ("1900-01-01T00:00:00Z", -2_208_988_800_000),
])
def test_old_events_and_events_within_the_skew_are_kept(raw, expected):
    assert epoch_ms(raw, NOW, LATEST) == expected


def test_without_a_bound_nothing_changes_and_times_before_year_1_are_refused():
    assert epoch_ms("9999-12-31T23:59:59Z", NOW) == 253_402_300_799_000
    with pytest.raises(ValueError, match="before year 1"):
        not_future(-10**300, LATEST)
