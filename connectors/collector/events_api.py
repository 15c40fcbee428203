"""`POST /v1/events`: a batch of Segment-style items; good items are accepted, bad ones reported per item."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from connectors.collector import metrics
from connectors.collector.clock import Clock
from connectors.collector.publisher import Publisher
from connectors.collector.rejections import rejected_input
from connectors.collector.segment import SOURCE, ItemError, interactions_from_item

log = logging.getLogger("leadflow.collector")
MAX_BATCH_BYTES = 500 * 1024
MAX_ITEM_BYTES = 32 * 1024
MAX_ITEMS = 2500


class EventsHandler:
    def __init__(self, publisher: Publisher, clock: Clock) -> None:
        self._publisher = publisher
        self._clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        now = self._clock()
        body = await request.read()
        if len(body) > MAX_BATCH_BYTES:
            return await self._refuse(413, f"batch exceeds {MAX_BATCH_BYTES} bytes", body, now)
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return await self._refuse(400, f"body is not JSON: {exc}", body, now)
        items = doc.get("batch") if isinstance(doc, dict) and "batch" in doc else doc
        items = items if isinstance(items, list) else [items]
        if not items:
            return await self._refuse(400, "batch is empty", body, now)
        if len(items) > MAX_ITEMS:
            return await self._refuse(413, f"batch has {len(items)} items; at most {MAX_ITEMS}", body, now)
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
                metrics.REJECTIONS.labels(SOURCE, "invalid_item").inc()
                await self._record_rejection(str(exc), raw, now)
        if accepted:
            try:
                await self._publisher.interactions(accepted)
            except Exception:
                log.exception("events could not be produced")
                for interaction in accepted:
                    metrics.INPUTS.labels(SOURCE, interaction.type, "failed").inc()
                return web.json_response({"error": "could not store events; retry later"}, status=503,
                                         headers={"Retry-After": "5"})
        for interaction in accepted:
            metrics.INPUTS.labels(SOURCE, interaction.type, "accepted").inc()
        status = 200 if accepted or not errors else 400
        return web.json_response({"accepted": accepted_items, "errors": errors}, status=status)

    async def _refuse(self, status: int, reason: str, body: bytes, now: int) -> web.Response:
        metrics.INPUTS.labels(SOURCE, "-", "rejected").inc()
        metrics.REJECTIONS.labels(SOURCE, "invalid_batch").inc()
        await self._record_rejection(reason, body, now)
        return web.json_response({"error": reason}, status=status)

    async def _record_rejection(self, reason: str, payload: bytes, now: int) -> None:
        try:
            await self._publisher.rejected(rejected_input(SOURCE, reason, payload, now, "application/json"))
        except Exception:
            log.exception("rejected input could not be recorded")
