"""Building RejectedInput records: the cause travels with the raw payload, cut to what a bad input is worth.

Anyone on the internet can send a bad request, so what it costs us is bounded: an
unauthenticated rejection keeps at most the first 4 KiB of its payload (enough to see
what it was), an authenticated one 64 KiB; the original size is recorded either way and
each truncation counted (leadflow_collector_rejected_truncated_total).
"""

from __future__ import annotations

import uuid

from connectors.collector import metrics
from schemas.records import RejectedInput

MAX_PAYLOAD = 64 * 1024  # a sender that proved who it is: a verified webhook (the only caller that asks for it)
MAX_UNAUTHENTICATED_PAYLOAD = 4 * 1024


def rejected_input(source: str, reason: str, payload: bytes, now_ms: int, content_type: str | None,
                   authenticated: bool = False) -> RejectedInput:
    limit = MAX_PAYLOAD if authenticated else MAX_UNAUTHENTICATED_PAYLOAD
    if len(payload) > limit:
        metrics.REJECTED_TRUNCATED.labels(source).inc()
    return RejectedInput(event_id=str(uuid.uuid4()), occurred_at=now_ms, received_at=now_ms, source=source,
                         reason=reason, payload=payload[:limit], content_type=content_type,
                         payload_size=len(payload))
