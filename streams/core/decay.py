"""Exponential decay in event time: points halve every half-life."""

from __future__ import annotations

import math
from typing import Callable



def decay_factor(elapsed_ms: int, half_life_ms: int | None) -> float:
    """Weight left after ``elapsed_ms``; no half-life (or no time passed) means no decay."""
    if half_life_ms is None or elapsed_ms <= 0:
        return 1.0
    return math.pow(0.5, elapsed_ms / half_life_ms)


def first_below(value_at: Callable[[int], float], start: int, threshold: float, horizon_ms: int,
                near: float | None = None) -> int | None:
    """The first millisecond after ``start`` at which a decaying score is under ``threshold``, found by bisection
    (about 40 evaluations); ``start`` if it already is; None if it is not within ``horizon_ms``. Scores here are
    sums of decaying terms, so once under they stay under until new points arrive; and the answer is the exact
    millisecond, so it is the same from any later ``start`` (a worker that ticked in between finds the same
    moment, and the same action id).

    ``near``: where the caller reckons the answer is, for a value that never rises (every term non-negative).
    Such a value has one millisecond that is under with the one before it not, so bisecting from a few
    milliseconds around the guess finds the very answer the whole range gives, in a handful of evaluations (a
    lead's demotion time is looked for after each of its inputs). A guess that does not bracket it is ignored."""
    if value_at(start) < threshold:
        return start
    low, high = start, start + horizon_ms
    if value_at(high) >= threshold:
        return None
    if near is not None and low < near < high:
        a, b = max(low, int(near) - 2), min(high, int(near) + 3)
        if (a == low or value_at(a) >= threshold) and (b == high or value_at(b) < threshold):
            low, high = a, b
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if value_at(middle) < threshold else (middle, high)
    return high


def newton_crossing(terms: list[tuple[float, int, int | None]], floor: float, threshold: float,
                    start: int) -> float | None:
    """Where ``floor + sum(value * 0.5 ** ((t - as_of) / half_life))`` falls to ``threshold``, by Newton's
    method from ``start`` (terms: value, as_of, half-life; None: no decay), for ``first_below``'s ``near``; None
    when a term is negative (the sum could rise again) or it does not settle. The sum is convex and falling,
    so from the left every step stays short of the crossing and the steps shrink."""
    if any(value < 0 for value, _, _ in terms):
        return None
    floor += sum(value for value, _, half_life in terms if not half_life)  # points that do not decay
    terms = [term for term in terms if term[2]]
    above = threshold - floor
    if above <= 0:
        return None  # never under
    # Each term alone crosses no later than the sum does: the latest of those is a start close to the crossing
    # (the crossing itself when one term decays).
    alone = [as_of + half_life * math.log2(value / above) for value, as_of, half_life in terms
             if value > above]
    t = max([float(start), *alone])
    if len(alone) == len(terms) == 1:
        return t
    for _ in range(60):
        value, slope = floor, 0.0
        for amount, as_of, half_life in terms:
            if t >= as_of:
                left = amount * 0.5 ** ((t - as_of) / half_life)
                value += left
                slope -= left * _LN2 / half_life
            else:
                value += amount
        if slope == 0.0:
            return None
        if value < threshold:
            return t
        step = (value - threshold) / -slope
        t += step
        if step < 0.25:
            return t
    return None


_LN2 = math.log(2)
