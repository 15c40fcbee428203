"""leadflow's signed webhooks, one implementation for every sender: the CRM sink's webhook target and the
action delivery's ``webhook`` actions.

Each is a JSON POST with

- ``X-Leadflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` under the sender's secret
  (the timestamp lets receivers refuse replays; see ``verify``),
- ``Idempotency-Key: <id>`` (the event id or the action id: redeliveries repeat it; receivers keep the first),
- and what the sender adds (``X-Leadflow-Event: <type>``, ``X-Leadflow-Action: <type>``).

One call is one attempt (``post_signed``); ``leadflow.outbound.with_retries`` repeats it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any, Callable, Mapping

import aiohttp

from leadflow.outbound import TRANSPORT_ERRORS, check, unreachable

SIGNATURE_HEADER = "X-Leadflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits only (int() also reads other scripts' digits)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: int = 300) -> bool:
    """What a receiver runs on each request: the signature matches and is fresh. False for any malformed header
    (not text, no ``t=`` of ASCII digits, a non-ASCII or missing ``v1=``), never an exception."""
    if not isinstance(header, str):
        return False
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not _TIMESTAMP.fullmatch(stamp) or not given.isascii():
        return False
    timestamp = int(stamp)
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(expected.encode(), given.encode())


async def post_signed(session: aiohttp.ClientSession, url: str, body: bytes, secret: str, idempotency_key: str,
                      clock: Callable[[], float] = time.time, headers: Mapping[str, str] | None = None,
                      requests: Any = None, seconds: Any = None) -> None:
    """One signed POST; raises ``AttemptFailed`` unless the answer is 2xx. ``requests`` (a Counter labelled by
    status) and ``seconds`` (a Histogram) are the sender's metrics, when it keeps them."""
    sent = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: idempotency_key, **(headers or {}),
            SIGNATURE_HEADER: signature(secret, body, int(clock()))}
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=sent) as response:
            if requests is not None:
                requests.labels(str(response.status)).inc()
            if seconds is not None:
                seconds.observe(time.perf_counter() - started)
            await check(response, url, clock())
    except TRANSPORT_ERRORS as exc:
        if requests is not None:
            requests.labels("error").inc()
        raise unreachable(exc, url) from None
