"""The HTTP webhook target: how users connect a CRM leadflow has no native target for.

Each lead or SLA event is POSTed as JSON to ``LEADFLOW_WEBHOOK_URL`` with

- ``X-Leadflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` under
  ``LEADFLOW_WEBHOOK_SECRET`` (the timestamp lets receivers refuse replays; see ``verify``),
- ``Idempotency-Key: <event_id>`` (redeliveries repeat it; receivers keep the first),
- ``X-Leadflow-Event: <type>``.

2xx is delivered. 5xx, 408, 429 (after its Retry-After), timeouts and connection errors are
retried with backoff up to ``LEADFLOW_WEBHOOK_MAX_ATTEMPTS``, then dead-lettered; any other
4xx is the receiver refusing the event, dead-lettered at once. One prospect's events go
in order; different prospects go concurrently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import time
from email.utils import parsedate_to_datetime
from typing import Callable

import aiohttp

from connectors.crm import metrics
from connectors.crm.delivery import Delivery
from leadflow.config import SinkSettings
from leadflow.stage import Failure, backoff_delays, pause

log = logging.getLogger("leadflow.sink")
SIGNATURE_HEADER = "X-Leadflow-Signature"
RETRY_AFTER_MAX_S = 120.0  # longer holds the partition too long: the attempt counts and backoff resumes
_RETRYABLE = frozenset({408, 429})
_STOPPED = object()
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits only (int() also reads other scripts' digits)


def body_of(delivery: Delivery) -> bytes:
    event = delivery.event
    document = {"schema": type(event).__name__, **dataclasses.asdict(event)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


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


def retry_after_s(value: str | None, now: float) -> float | None:
    """Retry-After as delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    try:
        return min(max(0.0, parsedate_to_datetime(value).timestamp() - now), RETRY_AFTER_MAX_S)
    except (TypeError, ValueError):
        return None


class WebhookTarget:
    name = "webhook"

    def __init__(self, settings: SinkSettings, secret: str, clock: Callable[[], float] = time.time) -> None:
        assert settings.webhook_url, "the webhook target needs LEADFLOW_WEBHOOK_URL"
        self._url = settings.webhook_url
        self._secret = secret
        self._settings = settings
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, items: list[Delivery], stop: asyncio.Event) -> list[Failure] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_s))
        by_prospect: dict[bytes | None, list[Delivery]] = {}
        for item in items:
            by_prospect.setdefault(item.record.key, []).append(item)
        gate = asyncio.Semaphore(self._settings.webhook_concurrency)
        results = await asyncio.gather(*(self._in_order(group, gate, stop) for group in by_prospect.values()))
        if any(result is _STOPPED for result in results):
            return None
        return [failure for result in results for failure in result]  # type: ignore[union-attr]

    async def _in_order(self, group: list[Delivery], gate: asyncio.Semaphore, stop: asyncio.Event):
        failures = []
        async with gate:
            for item in group:
                outcome = await self._send(item, stop)
                if outcome is _STOPPED:
                    return _STOPPED
                if outcome is not None:
                    failures.append(outcome)
        return failures

    async def _send(self, item: Delivery, stop: asyncio.Event):
        """None when delivered, a Failure when it never will be, _STOPPED when the sink stops first."""
        assert self._session is not None
        body = body_of(item)
        delays = backoff_delays()
        attempts = self._settings.webhook_max_attempts
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            wait: float | None = None
            headers = {"Content-Type": "application/json", "Idempotency-Key": item.event.event_id,
                       "X-Leadflow-Event": item.event.type,
                       SIGNATURE_HEADER: signature(self._secret, body, int(self._clock()))}
            try:
                async with self._session.post(self._url, data=body, headers=headers) as response:
                    metrics.WEBHOOK_REQUESTS.labels(str(response.status)).inc()
                    metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)
                    if 200 <= response.status < 300:
                        return None
                    detail = (await response.text())[:300]
                    error = f"HTTP {response.status} from {self._url}: {detail}".strip()
                    if response.status < 500 and response.status not in _RETRYABLE:
                        log.error("webhook refused %s: %s", item.event.event_id, error)
                        return Failure(item.record, error, attempt)
                    wait = retry_after_s(response.headers.get("Retry-After"), self._clock())
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                metrics.WEBHOOK_REQUESTS.labels("error").inc()
                error = f"{type(exc).__name__} posting to {self._url}: {exc}".strip()
            if attempt == attempts:
                log.error("webhook gave up on %s after %d attempts: %s", item.event.event_id, attempt, error)
                return Failure(item.record, error, attempt)
            delay = next(delays) if wait is None else wait
            metrics.RETRIES.inc()
            log.warning("webhook attempt %d for %s failed (%s); retrying in %.1fs", attempt, item.event.event_id,
                        error[:200], delay)
            if await pause(stop, delay):
                return _STOPPED
        raise AssertionError("unreachable: the last attempt returns")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
