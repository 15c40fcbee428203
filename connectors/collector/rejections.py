"""Building RejectedInput records: the cause travels with the raw payload."""

from __future__ import annotations

import uuid

from schemas.records import RejectedInput

MAX_PAYLOAD = 64 * 1024


def rejected_input(source: str, reason: str, payload: bytes, now_ms: int, content_type: str | None) -> RejectedInput:
    return RejectedInput(event_id=str(uuid.uuid4()), occurred_at=now_ms, received_at=now_ms, source=source,
                         reason=reason, payload=payload[:MAX_PAYLOAD], content_type=content_type)
