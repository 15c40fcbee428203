"""`POST /v1/events`: a batch of Segment-style items; good items are accepted, bad ones reported per item."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from connectors.collector.auth import unauthorized, write_key_ok
from connectors.collector.intake import Intake
from connectors.collector.json_items import Refused, json_items
from connectors.collector.publisher import SpoolFull
from connectors.collector.segment import SOURCE, ItemError, interactions_from_item
from leadflow.config import Config

log = logging.getLogger("leadflow.collector")
MAX_BATCH_BYTES = 500 * 1024
MAX_ITEM_BYTES = 32 * 1024
MAX_ITEMS = 2500
JSON = "application/json"


def unavailable(exc: Exception) -> web.Response:
    """5xx/429 make senders retry: used only when we could not keep what they sent."""
    reason = "spool full" if isinstance(exc, SpoolFull) else "could not store events"
    return web.json_response({"error": f"{reason}; retry later"}, status=503, headers={"Retry-After": "10"})


class EventsHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._write_key = config.secrets.write_key
        self._intake = intake

    async def handle(self, request: web.Request) -> web.Response:
        if not self._write_key or not write_key_ok(request, self._write_key):
            return unauthorized("a valid write key is required (HTTP Basic username or Bearer token)")
        try:
            _, items = await json_items(request, MAX_BATCH_BYTES, MAX_ITEMS, batch_key="batch")
        except Refused as refused:
            return await self._refuse(refused.status, refused.code, refused.reason, refused.body)
        now = self._intake.clock()
        accepted, errors, accepted_items = [], [], 0
        for index, item in enumerate(items):
            raw = json.dumps(item, separators=(",", ":")).encode()
            try:
                if len(raw) > MAX_ITEM_BYTES:
                    raise ItemError(f"item exceeds {MAX_ITEM_BYTES} bytes")
                accepted.extend(interactions_from_item(item, now))
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
        status = 200 if accepted or not errors else 400
        return web.json_response({"accepted": accepted_items, "errors": errors}, status=status)

    async def _refuse(self, status: int, code: str, reason: str, body: bytes) -> web.Response:
        await self._intake.reject(SOURCE, code, reason, body, JSON)
        return web.json_response({"error": reason}, status=status)
