"""`POST /v1/crm/feedback`: the CRM's verdicts (one object or a list), bearer-token authenticated.

Good verdicts are published to `leadflow.crm-feedback` (spooled like every accepted input
while Kafka is away); bad ones are reported per item and recorded on `leadflow.rejected`.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from connectors.collector import metrics
from leadflow.http_auth import bearer_token, same
from connectors.collector.events_api import unavailable
from connectors.collector.intake import Intake
from connectors.collector.json_items import Refused, json_items
from streams.core.verdicts import VerdictError, verdict_from
from leadflow.config import Config

log = logging.getLogger("leadflow.collector")
SOURCE = "crm"
MAX_BODY = 256 * 1024
MAX_ITEMS = 1000
JSON = "application/json"


class FeedbackHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._token = config.secrets.crm_feedback_token
        self._intake = intake
        self._max_future_s = config.collector.max_future_s

    async def handle(self, request: web.Request) -> web.Response:
        if not self._token or not same(bearer_token(request), self._token):
            return web.json_response({"error": "a valid CRM feedback token is required (Authorization: Bearer)"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="leadflow"'})
        try:
            _, items = await json_items(request, MAX_BODY, MAX_ITEMS)
        except Refused as refused:
            return await self._refuse(refused.status, refused.code, refused.reason, refused.body)
        now = self._intake.clock()
        verdicts, errors = [], []
        for index, item in enumerate(items):
            try:
                verdicts.append(verdict_from(item, now, self._max_future_s))
            except VerdictError as exc:
                errors.append({"index": index, "reason": str(exc)})
                await self._intake.reject(SOURCE, "invalid_verdict", str(exc),
                                          json.dumps(item, separators=(",", ":")).encode(), JSON)
        if verdicts:
            try:
                await self._intake.publisher.verdicts(verdicts)
            except Exception as exc:
                log.warning("CRM verdicts not stored: %s", exc.__class__.__name__)
                return unavailable(exc)
            for verdict in verdicts:
                metrics.input_counter(SOURCE, f"crm.{verdict.type}", "accepted").inc()
        status = 202 if verdicts else 400
        return web.json_response({"accepted": len(verdicts), "event_ids": [v.event_id for v in verdicts],
                                  "errors": errors}, status=status)

    async def _refuse(self, status: int, code: str, reason: str, body: bytes) -> web.Response:
        await self._intake.reject(SOURCE, code, reason, body, JSON)
        return web.json_response({"error": reason}, status=status)
