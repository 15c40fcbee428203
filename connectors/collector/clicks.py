"""`GET /t/c`: a signed, expiring tracked link; records `email.clicked` and redirects. Never an open redirect.

The target is read again as a browser reads it (links.verify_click -> redirects.browser_target)
before it goes into `Location`; a click counts once per prospect, message and target in each
LEADFLOW_EMAIL_DEDUP_SECONDS window (email_dedup.py).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web

from connectors.collector.email_dedup import email_event_id
from connectors.collector.intake import Intake
from connectors.collector.pixel import NO_CACHE, anonymous_id, set_anonymous_cookie, tracking_allowed
from connectors.collector.privacy import client_details
from leadflow.config import Config
from leadflow.signed_links import LinkError, verify_click
from schemas.records import Interaction

log = logging.getLogger("leadflow.collector")
SOURCE = "click"


class ClickHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._config = config
        self._intake = intake

    async def handle(self, request: web.Request) -> web.Response:
        query = request.query
        secret = self._config.secrets.link_secret
        now = self._intake.clock()
        try:
            if not secret:
                raise LinkError("tracked links are not configured (LEADFLOW_LINK_SECRET)")
            link = verify_click(secret, query, now / 1000)
        except LinkError as exc:
            await self._intake.reject(SOURCE, "bad_link", str(exc), urlencode(list(query.items())).encode(), None)
            return web.json_response({"error": f"invalid tracked link: {exc}"}, status=400, headers=NO_CACHE)
        response = web.Response(status=302, headers={"Location": link.url, **NO_CACHE})
        if not tracking_allowed(request, self._config.collector.tracking_consent) or not link.prospect_id:
            return response
        visitor = anonymous_id(request)
        set_anonymous_cookie(request, response, visitor)
        # A double-click, a scanner or a replay in the same window gets the same id: the worker drops it.
        event_id = email_event_id("click", link.prospect_id, "email.clicked", link.message_id, now,
                                  self._config.collector.email_dedup_s, target=link.url)
        ip, user_agent = client_details(request, self._config)
        interaction = Interaction(
            event_id=event_id, prospect_key=link.prospect_id, prospect_id=link.prospect_id,
            anonymous_id=visitor, type="email.clicked", occurred_at=now, received_at=now, source=SOURCE,
            url=link.url, message_id=link.message_id,
            ip=ip, user_agent=user_agent,
        )
        try:
            await self._intake.accept(SOURCE, [interaction], wait_for_ack=False)
        except Exception as exc:
            log.warning("click lost: %s", exc.__class__.__name__)
        return response
