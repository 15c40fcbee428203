"""Durations as marketing ops write them in the model: ``90d``, ``12h``, ``30m``, ``45s``, ``2w``."""

from __future__ import annotations

import re

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def parse_duration_ms(text: object) -> int:
    """Raises ValueError with the accepted forms when ``text`` is not a duration."""
    match = _DURATION.match(str(text)) if isinstance(text, (str, int, float)) else None
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. 45s, 30m, 12h, 90d or 2w")
    return int(float(match.group(1)) * _UNITS_MS[match.group(2)])


def format_duration_ms(ms: int) -> str:
    """The largest unit up to days that divides it exactly, as marketing ops write it: ``3d``, ``36h``, ``1500ms``."""
    for unit in ("d", "h", "m", "s"):
        if ms % _UNITS_MS[unit] == 0:
            return f"{ms // _UNITS_MS[unit]}{unit}"
    return f"{ms}ms"
