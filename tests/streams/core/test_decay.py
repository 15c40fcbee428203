"""The decay crossing: a guess near the answer changes how fast it is found, never what it is."""

import pytest
from hypothesis import given, settings, strategies as st

from streams.core.decay import first_below, newton_crossing
from streams.core.scoring import DecayingSum, behaviour
from streams.core.timers import HORIZON_MS

START = 1_767_000_000_000
DAY = 86_400_000
terms = st.lists(st.tuples(st.floats(0, 500), st.integers(START - 400 * DAY, START),
                           st.sampled_from([None, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY])), min_size=1, max_size=4)


def _value(fit: float, decaying: list[tuple[float, int, int | None]]):
    sums = {}
    for value, as_of, half_life in decaying:  # one sum per half-life, as the state keeps them
        sums.setdefault(half_life, DecayingSum(value, as_of))
    return (lambda at: fit + behaviour(sums, at)), [(s.value, s.as_of, h) for h, s in sums.items()]


@settings(max_examples=300, deadline=None)
@given(terms, st.floats(0, 50), st.floats(1, 400))
def test_the_newton_guess_finds_the_same_millisecond_as_the_whole_bisection(decaying, fit, threshold):
    value_at, sums = _value(fit, decaying)
    near = newton_crossing(sums, fit, threshold, START)
    assert first_below(value_at, START, threshold, HORIZON_MS, near) == first_below(value_at, START, threshold,
                                                                                      HORIZON_MS)


@settings(max_examples=200, deadline=None)
@given(terms, st.floats(0, 50), st.floats(1, 400), st.floats(START - DAY, START + 2 * HORIZON_MS))
def test_a_wrong_guess_is_ignored(decaying, fit, threshold, guess):
    value_at, _ = _value(fit, decaying)
    assert first_below(value_at, START, threshold, HORIZON_MS, guess) == first_below(value_at, START, threshold,
                                                                                       HORIZON_MS)


def test_a_negative_term_gets_no_guess():
    assert newton_crossing([(10.0, START, DAY), (-5.0, START, 2 * DAY)], 0.0, 1.0, START) is None


@pytest.mark.parametrize("decaying", [[(80.0, START - DAY, 30 * DAY)],
                                      [(80.0, START - DAY, 30 * DAY), (40.0, START, 90 * DAY), (5.0, START, None)]])
def test_the_guess_saves_most_evaluations(decaying):
    calls = []
    value_at, sums = _value(0.0, decaying)

    def counted(at: int) -> float:
        calls.append(at)
        return value_at(at)

    first_below(counted, START, 50.0, HORIZON_MS)
    whole, calls[:] = len(calls), []
    first_below(counted, START, 50.0, HORIZON_MS, newton_crossing(sums, 0.0, 50.0, START))
    assert len(calls) <= 8 < whole
