"""Event times as the outside world writes them (ISO 8601 or epoch milliseconds) -> epoch milliseconds UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def epoch_ms(raw: Any, default_ms: int) -> int:
    """``default_ms`` when absent; an ISO 8601 string (naive = UTC) or an integer of epoch milliseconds.
    Raises ValueError with a reason a sender can act on."""
    if raw is None:
        return default_ms
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw < 10**14:
            raise ValueError(f"timestamp {raw} is not epoch milliseconds")
        return raw
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
    return int(parsed.timestamp() * 1000)
