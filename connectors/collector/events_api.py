"""The server-side events API, compatible with Segment's and RudderStack's HTTP tracking APIs.

`POST /v1/batch` and `/v1/events` take `{"batch": [...], "sentAt", "context"}` (or one
call, or a list); `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/group` and
`/v1/alias` take one call of that type. The write key is the HTTP Basic username (what
the official libraries send), a Bearer token, or `writeKey` in the body; bodies may be
gzip- or deflate-compressed.

Answers follow those APIs so their clients do the right thing: 200 with a small JSON body
when anything was kept (bad calls are listed in ``errors`` and recorded as rejected, never
retried), 400/401/413/415 with ``code`` and ``message`` for what no retry can fix, and 503
with `Retry-After` only when we could not keep what was sent, so the client retries it.

Abuse limit: requests per write key and client IP (LEADFLOW_RATE_LIMIT_EVENTS_API, 1000/s by
default: a backend's bulk import of 2,500-call batches is never throttled, a leaked key
flooding from one address is), answered 429 with `Retry-After`, which the Segment and
RudderStack clients retry. Not per email address: a backend legitimately sends many events
for one person, and whoever holds the write key can already name any address.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from aiohttp import web

from leadflow.http_auth import same, write_key_ok
from connectors.collector.event_names import load_event_names
from connectors.collector.intake import Intake
from connectors.collector.json_items import Refused, items_of, json_body
from connectors.collector.privacy import client_ip
from connectors.collector.publisher import SpoolFull
from connectors.collector.rate_limit import RateLimiter, client_key, rate_of, retry_after
from connectors.collector.segment import CALLS, SOURCE, ItemError, SegmentMapping
from leadflow.config import Config

log = logging.getLogger("leadflow.collector")
MAX_BATCH_BYTES = 500 * 1024
MAX_ITEM_BYTES = 32 * 1024
MAX_ITEMS = 2500
JSON = "application/json"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error body every client understands: Segment's `code`/`message`, and leadflow's `error`."""
    return web.json_response({"success": False, "code": code, "message": message, "error": message},
                             status=status, headers=headers)


def unavailable(exc: Exception) -> web.Response:
    """5xx/429 make senders retry: used only when we could not keep what they sent."""
    reason = "spool full" if isinstance(exc, SpoolFull) else "could not store events"
    return error(503, "unavailable", f"{reason}; retry later", {"Retry-After": "10"})


def unauthorized() -> web.Response:
    return error(401, "unauthorized", "a valid write key is required (HTTP Basic username, Bearer token or "
                 "writeKey in the body)", {"WWW-Authenticate": 'Basic realm="leadflow"'})


class EventsHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._write_key = config.secrets.write_key
        self._intake = intake
        self._limiter = RateLimiter(rate_of(config.collector.rate_limit_events_api))
        self.mapping = SegmentMapping(load_event_names(config.collector.event_names_path),
                                      config.collector.ip_mode, config.secrets.link_secret or "",
                                      config.collector.max_future_s)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/events", self.handle), web.post("/v1/batch", self.handle),
                *(web.post(f"/v1/{call}", partial(self.handle, call=call)) for call in CALLS)]

    async def handle(self, request: web.Request, call: str | None = None) -> web.Response:
        header_ok = bool(self._write_key) and write_key_ok(request, self._write_key)
        if not self._write_key or (not header_ok and "Authorization" in request.headers):
            return unauthorized()
        try:
            body, doc = await json_body(request, MAX_BATCH_BYTES)
            if not header_ok and not (isinstance(doc, dict) and isinstance(doc.get("writeKey"), str)
                                      and same(doc["writeKey"], self._write_key)):
                return unauthorized()
            client = f"{self._write_key}|{client_key(client_ip(request))}"
            wait = self._limiter.take(client, self._intake.clock() / 1000)
            if wait:
                await self._intake.reject(SOURCE, "rate_limited", "too many requests for this write key from this "
                                          "client", b"", JSON)
                return error(429, "rate_limited", "too many requests for this write key from this client; retry later",
                             {"Retry-After": retry_after(wait)})
            items = [doc] if call else items_of(body, doc, MAX_ITEMS, batch_key="batch")
        except Refused as refused:
            await self._intake.reject(SOURCE, refused.code, refused.reason, refused.body, JSON)
            return error(refused.status, refused.code, refused.reason)
        return await self._keep(items, call, _batch_fields(doc, call))

    async def _keep(self, items: list[Any], call: str | None, batch: dict[str, Any]) -> web.Response:
        now = self._intake.clock()
        accepted, errors, accepted_items = [], [], 0
        for index, item in enumerate(items):
            raw = json.dumps(item, separators=(",", ":"), default=str).encode()
            try:
                if len(raw) > MAX_ITEM_BYTES:
                    raise ItemError(f"item exceeds {MAX_ITEM_BYTES} bytes")
                if batch.get("context") and isinstance(item, dict) and isinstance(item.get("context") or {}, dict):
                    item = {**item, "context": {**batch["context"], **(item.get("context") or {})}}
                accepted.extend(self.mapping.interactions(item, now, call, batch.get("sentAt")))
                accepted_items += 1
            except ItemError as exc:
                errors.append({"index": index, "reason": str(exc)})
                await self._intake.reject(SOURCE, "invalid_item", str(exc), raw, JSON)
        if accepted:
            try:
                await self._intake.accept(SOURCE, accepted)
            except Exception as exc:
                log.warning("events API batch not stored: %s", exc.__class__.__name__)
                return unavailable(exc)
        if not accepted_items and errors:
            return web.json_response({"success": False, "code": "invalid_request", "message": errors[0]["reason"],
                                      "error": errors[0]["reason"], "accepted": 0, "errors": errors}, status=400)
        return web.json_response({"success": True, "accepted": accepted_items, "errors": errors})


def _batch_fields(doc: Any, call: str | None) -> dict[str, Any]:
    """A batch's `sentAt` and `context` apply to each of its calls (a call's own win)."""
    if call or not isinstance(doc, dict):
        return {}
    context = doc.get("context")
    return {"sentAt": doc.get("sentAt"), "context": context if isinstance(context, dict) else None}
