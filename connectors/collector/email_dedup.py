"""Event ids for email opens and clicks that repeat within a window: how a replay counts once.

Why: an open pixel or a tracked link is a URL anyone who has the email can request again
(forwarded emails, mail scanners, image proxies, or someone farming points). Instead of
keeping state in the collector, the id of an open or a click is derived from what it is
about (prospect, message, type, for a click its target) and the window of
``LEADFLOW_EMAIL_DEDUP_SECONDS`` it falls in (windows are aligned to the epoch); every
repeat in the same window gets the same id, and the worker's event-id de-duplication
(streams/core/seen.py, the newest SEEN_WINDOW ids of each prospect) drops it. Any
collector process computes the same id, so it holds across processes and restarts.
Pure.
"""

from __future__ import annotations

import hashlib


def email_event_id(prefix: str, prospect_key: str, type_: str, message_id: str | None, now_ms: int,
                   window_s: int, target: str | None = None) -> str:
    """``<prefix>:<32 hex>``, equal for equal (prospect, type, message, target, window)."""
    window = now_ms // (window_s * 1000)
    key = "\n".join((prospect_key, type_, message_id or "", target or "", str(window)))
    return f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
