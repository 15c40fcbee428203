"""Exponential decay in event time: points halve every half-life."""

from __future__ import annotations

import math
from typing import Callable



def decay_factor(elapsed_ms: int, half_life_ms: int | None) -> float:
    """Weight left after ``elapsed_ms``; no half-life (or no time passed) means no decay."""
    if half_life_ms is None or elapsed_ms <= 0:
        return 1.0
    return math.pow(0.5, elapsed_ms / half_life_ms)


def first_below(value_at: Callable[[int], float], start: int, threshold: float, horizon_ms: int) -> int | None:
    """The first millisecond after ``start`` at which a decaying score is under ``threshold``, found by bisection
    (about 40 evaluations); ``start`` if it already is; None if it is not within ``horizon_ms``. Scores here are
    sums of decaying terms, so once under they stay under until new points arrive; and the answer is the exact
    millisecond, so it is the same from any later ``start`` (a worker that ticked in between finds the same
    moment, and the same action id)."""
    if value_at(start) < threshold:
        return start
    low, high = start, start + horizon_ms
    if value_at(high) >= threshold:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if value_at(middle) < threshold else (middle, high)
    return high
