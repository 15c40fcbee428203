"""`GET|HEAD /t/px.gif`: page views and email opens, answered with a 1x1 GIF whatever happens.

A signed pixel records exactly the type (and campaign) it was signed for; an open counts once
per prospect and message in each LEADFLOW_EMAIL_DEDUP_SECONDS window (email_dedup.py).
"""

from __future__ import annotations

import base64
import itertools
import logging
import re
import secrets
from urllib.parse import urlencode

from aiohttp import web

from connectors.collector import metrics
from connectors.collector.email_dedup import email_event_id
from connectors.collector.intake import Intake
from connectors.collector.privacy import client_details
from leadflow.config import Config
from leadflow.signed_links import LinkError, VerifiedLink, verify_pixel
from schemas.records import Interaction
from streams.core.hygiene import MAX_URL, problem, strip
from streams.core.identity import anonymous_key

log = logging.getLogger("leadflow.collector")
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
COOKIE = "lf_aid"
CONSENT_COOKIE = "lf_consent"
COOKIE_MAX_AGE = 365 * 24 * 3600
PIXEL_TYPES = frozenset({"page.viewed", "email.opened"})
MAX_PARAM = 2048
_ANON_ID = re.compile(r"[0-9a-f]{32}")  # fullmatch: no trailing newline
# Unique without a syscall per hit: a random per-process prefix and a counter.
_EVENT_PREFIX = secrets.token_hex(8)
_EVENT_COUNTER = itertools.count()
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}


def tracking_allowed(request: web.Request, consent: str) -> bool:
    """DNT and GPC always win; with consent 'required' the site must also signal consent."""
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return False
    if consent == "required":
        return request.query.get("consent") == "1" or request.cookies.get(CONSENT_COOKIE) == "1"
    return True


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def anonymous_id(request: web.Request) -> str:
    """The visitor's cookie id, or a new one."""
    current = request.cookies.get(COOKIE, "")
    return current if _ANON_ID.fullmatch(current) else secrets.token_hex(16)


def set_anonymous_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    """Written directly: the value is hex, and http.cookies costs more than the rest of a pixel hit."""
    secure = "; Secure" if is_https(request) else ""
    response.headers.add("Set-Cookie", f"{COOKIE}={value}; HttpOnly; Max-Age={COOKIE_MAX_AGE}; Path=/; "
                                       f"SameSite=Lax{secure}")


class PixelHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._config = config
        self._intake = intake

    async def handle(self, request: web.Request) -> web.Response:
        response = web.Response(body=GIF, content_type="image/gif", headers=NO_CACHE)
        if not tracking_allowed(request, self._config.collector.tracking_consent):
            metrics.input_counter("pixel", "-", "not_tracked").inc()
            return response
        query = request.query
        type_ = query.get("e", "page.viewed")
        try:
            link = self._identify(type_, query)
        except ValueError as exc:
            code, _, reason = str(exc).partition(": ")
            await self._intake.reject("pixel", code, reason, urlencode(list(query.items())).encode(), None)
            return response
        prospect_id, message_id = link.prospect_id, link.message_id
        type_ = link.type or type_
        campaign = link.campaign if link.prospect_id else query.get("c") or query.get("utm_campaign")
        visitor = anonymous_id(request)
        set_anonymous_cookie(request, response, visitor)
        now = self._intake.clock()
        ip, user_agent = client_details(request, self._config)
        prospect_key = prospect_id or anonymous_key(visitor)
        if type_ == "email.opened":  # a re-open or a replay in the same window gets the same id
            event_id = email_event_id("px", prospect_key, type_, message_id, now, self._config.collector.email_dedup_s)
        else:
            event_id = f"px:{_EVENT_PREFIX}{next(_EVENT_COUNTER):x}"
        interaction = Interaction(
            event_id=event_id, prospect_key=prospect_key, prospect_id=prospect_id,
            anonymous_id=visitor, type=type_, occurred_at=now, received_at=now, source="pixel",
            url=query.get("u") or _referer(request), referrer=query.get("r"), title=query.get("t"),
            campaign=campaign, message_id=message_id,
            ip=ip, user_agent=user_agent,
            properties={k: v for k, v in query.items() if k.startswith("utm_")},
        )
        try:
            await self._intake.accept("pixel", [interaction], wait_for_ack=False)
        except Exception as exc:
            log.warning("pixel hit lost: %s", exc.__class__.__name__)
        return response

    def _identify(self, type_: str, query) -> VerifiedLink:
        if type_ not in PIXEL_TYPES:
            raise ValueError(f"bad_type: e must be one of {', '.join(sorted(PIXEL_TYPES))}, got {type_[:40]!r}")
        for name, value in query.items():
            if len(value) > MAX_PARAM:
                raise ValueError(f"too_long: parameter {name!r} exceeds {MAX_PARAM} characters")
            # the string check every input gets (streams.core.hygiene), here on the parameters it is built from
            reason = problem(value, MAX_PARAM) or problem(name, MAX_PARAM)
            if reason:
                raise ValueError(f"unclean: parameter {name[:40]!r} {reason}")
        if "p" not in query:
            return VerifiedLink(None, query.get("m"))
        secret = self._config.secrets.link_secret
        if not secret:
            raise ValueError("unsigned: prospect tokens need LEADFLOW_LINK_SECRET")
        try:
            link = verify_pixel(secret, query)
        except LinkError as exc:
            raise ValueError(f"bad_signature: {exc}") from None
        if link.type != type_ and not link.legacy:
            raise ValueError(f"bad_signature: the pixel is signed for {link.type!r}, not {type_!r}")
        return link


def _referer(request: web.Request) -> str | None:
    """The Referer header, cleaned like every header-derived field (never a reason to refuse a hit)."""
    referer = request.headers.get("Referer")
    return strip(referer, MAX_URL) or None if referer else None
