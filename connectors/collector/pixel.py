"""`GET|HEAD /t/px.gif`: page views and email opens, answered with a 1x1 GIF whatever happens."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from urllib.parse import urlencode

from aiohttp import web

from connectors.collector import metrics
from connectors.collector.clock import Clock
from connectors.collector.publisher import Publisher
from connectors.collector.rejections import rejected_input
from schemas.records import Interaction
from streams.core.identity import anonymous_key

log = logging.getLogger("leadflow.collector")
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
COOKIE = "lf_aid"
COOKIE_MAX_AGE = 365 * 24 * 3600
PIXEL_TYPES = frozenset({"page.viewed", "email.opened"})
MAX_PARAM = 2048
_ANON_ID = re.compile(r"^[0-9a-f]{32}$")
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}


def tracking_refused(request: web.Request) -> bool:
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class PixelHandler:
    def __init__(self, publisher: Publisher, clock: Clock) -> None:
        self._publisher = publisher
        self._clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        response = web.Response(body=GIF, content_type="image/gif", headers=NO_CACHE)
        if tracking_refused(request):
            metrics.INPUTS.labels("pixel", "-", "not_tracked").inc()
            return response
        now = self._clock()
        query = request.query
        type_ = query.get("e", "page.viewed")
        problem = self._problem(type_, query)
        if problem:
            metrics.INPUTS.labels("pixel", "-", "rejected").inc()
            metrics.REJECTIONS.labels("pixel", problem.split(":")[0]).inc()
            await self._reject(problem, request, now)
            return response
        anonymous_id = request.cookies.get(COOKIE, "")
        if not _ANON_ID.match(anonymous_id):
            anonymous_id = uuid.uuid4().hex
        response.set_cookie(COOKIE, anonymous_id, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=is_https(request), path="/")
        interaction = Interaction(
            event_id=str(uuid.uuid4()), prospect_key=anonymous_key(anonymous_id), anonymous_id=anonymous_id,
            type=type_, occurred_at=now, received_at=now, source="pixel",
            url=query.get("u") or request.headers.get("Referer"), referrer=query.get("r"), title=query.get("t"),
            campaign=query.get("c"), message_id=query.get("m"),
        )
        try:
            await self._publisher.interactions([interaction])
        except Exception:
            metrics.INPUTS.labels("pixel", type_, "failed").inc()
            log.exception("pixel hit could not be produced")
            return response
        metrics.INPUTS.labels("pixel", type_, "accepted").inc()
        return response

    @staticmethod
    def _problem(type_: str, query) -> str | None:
        if type_ not in PIXEL_TYPES:
            return f"bad_type: e must be one of {', '.join(sorted(PIXEL_TYPES))}, got {type_[:40]!r}"
        for name, value in query.items():
            if len(value) > MAX_PARAM:
                return f"too_long: parameter {name!r} exceeds {MAX_PARAM} characters"
        return None

    async def _reject(self, reason: str, request: web.Request, now: int) -> None:
        try:
            payload = urlencode(list(request.query.items())).encode()
            await self._publisher.rejected(rejected_input("pixel", reason, payload, now, None))
        except Exception:
            log.exception("rejected pixel hit could not be recorded")
