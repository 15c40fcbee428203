"""The HTTP webhook target: how users connect a CRM leadflow has no native target for.

Each lead or SLA event is POSTed as a signed JSON webhook (``leadflow.webhooks``, shared with the action
delivery's webhook actions) to ``LEADFLOW_WEBHOOK_URL`` under ``LEADFLOW_WEBHOOK_SECRET``, with
``Idempotency-Key: <event_id>`` and ``X-Leadflow-Event: <type>``.

2xx is delivered. 5xx, 408, 429 (after its Retry-After), timeouts and connection errors are
retried with backoff up to ``LEADFLOW_WEBHOOK_MAX_ATTEMPTS``, then dead-lettered; any other
4xx is the receiver refusing the event, dead-lettered at once. One prospect's events go
in order; different prospects go concurrently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from typing import Callable

import aiohttp

from connectors.crm import metrics
from connectors.crm.delivery import Delivery
from leadflow.config import SinkSettings
from leadflow.outbound import AttemptFailed, Stopped, retry_after_s, with_retries
from leadflow.stage import Failure
from leadflow.webhooks import SIGNATURE_HEADER, post_signed, signature, verify

__all__ = ["WebhookTarget", "body_of", "retry_after_s", "signature", "verify", "SIGNATURE_HEADER"]

log = logging.getLogger("leadflow.sink")
_STOPPED = object()


def body_of(delivery: Delivery) -> bytes:
    event = delivery.event
    document = {"schema": type(event).__name__, **dataclasses.asdict(event)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


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
        tries = {"n": 0}

        async def attempt() -> None:
            tries["n"] += 1
            await post_signed(self._session, self._url, body, self._secret, item.event.event_id, self._clock,
                              {"X-Leadflow-Event": item.event.type}, metrics.WEBHOOK_REQUESTS,
                              metrics.WEBHOOK_SECONDS)

        try:
            await with_retries(attempt, attempts=self._settings.webhook_max_attempts, stop=stop,
                               what=f"webhook {self._url} for {item.event.event_id}",
                               on_retry=lambda _failure: metrics.RETRIES.inc())
        except Stopped:
            return _STOPPED
        except AttemptFailed as failure:
            log.error("webhook gave up on %s after %d attempts: %s", item.event.event_id, tries["n"], failure.reason)
            return Failure(item.record, failure.reason, tries["n"])
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
