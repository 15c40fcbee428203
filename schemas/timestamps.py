"""Event times as the outside world writes them (ISO 8601 or epoch milliseconds) -> epoch milliseconds UTC.

Also the one bound on how far into the future an event may be stamped. Why: the worker
keeps a prospect's history by age and decays scores in event time, so a single event
stamped in year 9999 would age every earlier event out of the retained timeline and
decay the score to zero. Every path that takes a sender's event time passes ``latest_ms``
(now + ``LEADFLOW_MAX_FUTURE_SECONDS``); old events (imports of history) stay accepted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

DEFAULT_MAX_FUTURE_S = 86400  # LEADFLOW_MAX_FUTURE_SECONDS' default: clocks are never a day fast
EARLIEST_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z


class FutureTime(ValueError):
    """The event is stamped further into the future than the configured skew allows."""


def latest(now_ms: int, max_future_s: float) -> int:
    """The latest event time accepted at ``now_ms``."""
    return now_ms + int(max_future_s * 1000)


def not_future(ms: int, latest_ms: int) -> int:
    """``ms``, or FutureTime when it is after ``latest_ms`` (ValueError before year 1, which no record holds)."""
    if ms < EARLIEST_MS:
        raise ValueError(f"timestamp {ms} ms is before year 1")
    if ms > latest_ms:
        raise FutureTime(f"timestamp {_iso(ms)} is more than the allowed skew in the future "
                         f"(latest accepted {_iso(latest_ms)}; LEADFLOW_MAX_FUTURE_SECONDS)")
    return ms


def epoch_ms(raw: Any, default_ms: int, latest_ms: int | None = None) -> int:
    """``default_ms`` when absent; an ISO 8601 string (naive = UTC) or an integer of epoch milliseconds.
    With ``latest_ms``, a time after it is refused (FutureTime). Raises ValueError with a reason a sender can
    act on."""
    if raw is None:
        return default_ms
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw < 10**14:
            raise ValueError(f"timestamp {raw} is not epoch milliseconds")
        return raw if latest_ms is None else not_future(raw, latest_ms)
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp is not ISO 8601: {raw[:40]!r}") from None
    else:
        raise ValueError("timestamp must be an ISO 8601 string or epoch milliseconds")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        ms = int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError):
        raise ValueError(f"timestamp {str(raw)[:40]!r} is out of range") from None
    return ms if latest_ms is None else not_future(ms, latest_ms)


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"
