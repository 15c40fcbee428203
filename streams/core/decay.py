"""Exponential decay in event time: points halve every half-life."""

from __future__ import annotations

import math


def decay_factor(elapsed_ms: int, half_life_ms: int | None) -> float:
    """Weight left after ``elapsed_ms``; no half-life (or no time passed) means no decay."""
    if half_life_ms is None or elapsed_ms <= 0:
        return 1.0
    return math.pow(0.5, elapsed_ms / half_life_ms)
