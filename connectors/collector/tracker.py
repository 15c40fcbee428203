"""The website tracker: `GET /t/lf.js` serves the script, `POST /t/e` takes its hits.

Why a script and not only the pixel: browsers cut the `Referer` of a cross-origin image to the origin, so an
`<img>` pixel records a visit to `/pricing?utm_campaign=spring` as a visit to `/`. The script reads the full
URL, title, referrer and UTM parameters in the page, follows single-page-app navigation, and keeps an
anonymous id on the website's own domain that it sends with every hit and fills into the page's forms.

Hits are Segment-shaped items (`page`, `track`, `identify`) sent with `navigator.sendBeacon` as `text/plain`
JSON, so no CORS preflight is needed. They are mapped by the events API's Segment mapping (one mapping for
both, with the same event names and identity rules), then held to what a browser may assert: no secret protects this endpoint, so the
collector's clock is the event time, `email.*` events (which only email providers and signed links report)
are refused, and event ids get their own namespace so a page cannot pre-empt a server-side `messageId`.
The privacy rules are the pixel's (DNT, GPC, consent, IP treatment). Whatever arrives, the answer is 2xx:
a beacon has nobody to show an error to; bad items are reported in the body and recorded as rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from connectors.collector import metrics
from connectors.collector.forms import ANONYMOUS_ID
from connectors.collector.intake import Intake
from connectors.collector.json_items import Refused, json_items
from connectors.collector.pixel import anonymous_id, set_anonymous_cookie, tracking_allowed
from connectors.collector.privacy import client_details
from connectors.collector.segment import ItemError, SegmentMapping
from leadflow.config import Config
from schemas.records import Interaction

log = logging.getLogger("leadflow.collector")
SOURCE = "tracker"
SCRIPT = Path(__file__).with_name("static") / "lf.js"
SNIPPET = Path(__file__).with_name("static") / "snippet.html"
CONSENT_PLACEHOLDER = '"__LEADFLOW_CONSENT__"'
MAX_BODY = 64 * 1024  # what sendBeacon may carry
MAX_ITEM_BYTES = 16 * 1024
MAX_ITEMS = 20
MAX_TEXT = 2048
SHORT_CACHE = "public, max-age=3600"
VERSIONED_CACHE = "public, max-age=604800"
EVENT_PREFIX = "lf:"
TEXT = "text/plain"


def script_version(source: str) -> str:
    """The tracker version the snippet names in `?v=`: `var VERSION = "..."` in lf.js."""
    match = re.search(r'var VERSION = "([^"]+)";', source)
    if not match:
        raise ValueError("lf.js declares no VERSION")
    return match.group(1)


def render_script(source: str, consent_mode: str) -> bytes:
    """lf.js as served: it must know whether this collector requires consent before anything is sent."""
    if CONSENT_PLACEHOLDER not in source:
        raise ValueError("lf.js has no consent placeholder")
    return source.replace(CONSENT_PLACEHOLDER, json.dumps(consent_mode)).encode()


def snippet(collector_url: str) -> str:
    """The copy-paste loader for a collector at this URL (the README shows it for https://collect.example.com)."""
    return SNIPPET.read_text().replace("https://collect.example.com", collector_url.rstrip("/"))


def browser_item(item: Any, fallback_visitor: str) -> dict[str, Any]:
    """The item as the Segment mapping should see it: this visitor's valid anonymous id, no browser clock."""
    if not isinstance(item, dict):
        raise ItemError("item must be a JSON object")
    visitor = item.get("anonymousId")
    if visitor is None:
        visitor = fallback_visitor
    elif not isinstance(visitor, str) or not ANONYMOUS_ID.fullmatch(visitor):
        raise ItemError("anonymousId may use letters, digits and '-' (1-100 characters)")
    return {**{k: v for k, v in item.items() if k not in ("timestamp", "sentAt", "receivedAt")},
            "anonymousId": visitor}


def browser_interaction(interaction: Interaction, ip: str | None, user_agent: str | None) -> Interaction:
    """What a browser may assert, in the tracker's own event-id namespace, with the visitor's client details."""
    if interaction.type.startswith("email."):
        raise ItemError(f"{interaction.type} is reported by email providers and signed links, not by browsers")
    if interaction.type == "page.viewed" and not interaction.url:
        raise ItemError("a page view needs context.page.url")
    if interaction.url is not None and not _web_url(interaction.url):
        raise ItemError("url must be an absolute http(s) URL")
    for name in ("url", "referrer", "title", "campaign"):
        value = getattr(interaction, name)
        if value is not None and len(value) > MAX_TEXT:
            raise ItemError(f"{name} exceeds {MAX_TEXT} characters")
    return replace(interaction, event_id=EVENT_PREFIX + interaction.event_id.removeprefix("api:"), source=SOURCE,
                   ip=ip, user_agent=user_agent)


def _web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class ScriptHandler:
    """`GET|HEAD /t/lf.js`: cacheable, revalidated by ETag; `?v=<version>` (as in the snippet) is cached longer."""

    def __init__(self, config: Config) -> None:
        source = SCRIPT.read_text()
        self.version = script_version(source)
        self.body = render_script(source, config.collector.tracking_consent)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'

    async def handle(self, request: web.Request) -> web.Response:
        headers = {"ETag": self.etag, "Cache-Control": VERSIONED_CACHE if request.query.get("v") == self.version
                   else SHORT_CACHE, "X-Content-Type-Options": "nosniff",
                   "Cross-Origin-Resource-Policy": "cross-origin"}
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, content_type="application/javascript", charset="utf-8",
                            headers=headers)


class BeaconHandler:
    """`POST /t/e`: one hit or a few (a list or `{"batch": [...]}`) from lf.js."""

    def __init__(self, config: Config, intake: Intake, mapping: SegmentMapping) -> None:
        self._config = config
        self._intake = intake
        self._mapping = mapping  # the events API's: the same event names, the same identity rules

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "OPTIONS":  # the CORS middleware answered preflights from allowed origins
            return web.Response(status=204)
        if not tracking_allowed(request, self._config.collector.tracking_consent):
            metrics.input_counter(SOURCE, "-", "not_tracked").inc()
            return web.Response(status=204)
        content_type = request.content_type or TEXT
        try:
            _, items = await json_items(request, MAX_BODY, MAX_ITEMS, batch_key="batch")
        except Refused as refused:
            await self._intake.reject(SOURCE, refused.code, refused.reason, refused.body, content_type)
            return web.json_response({"accepted": 0, "errors": [{"reason": refused.reason}]})
        fallback = anonymous_id(request)
        ip, user_agent = client_details(request, self._config)
        now = self._intake.clock()
        accepted: list[Interaction] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            raw = json.dumps(item, separators=(",", ":")).encode()
            try:
                if len(raw) > MAX_ITEM_BYTES:
                    raise ItemError(f"item exceeds {MAX_ITEM_BYTES} bytes")
                mapped = self._mapping.interactions(browser_item(item, fallback), now)
                accepted.extend(browser_interaction(interaction, ip, user_agent) for interaction in mapped)
            except ItemError as exc:
                errors.append({"index": index, "reason": str(exc)})
                await self._intake.reject(SOURCE, "invalid_item", str(exc), raw, content_type)
        response = web.json_response({"accepted": len(items) - len(errors), "errors": errors})
        visitors = [i.anonymous_id for i in accepted if i.anonymous_id and ANONYMOUS_ID.fullmatch(i.anonymous_id)]
        if visitors:  # the collector's cookie follows the tracker's id, so a same-site form post names it too
            set_anonymous_cookie(request, response, visitors[-1])
        if accepted:
            try:
                await self._intake.accept(SOURCE, accepted, wait_for_ack=False)
            except Exception as exc:
                log.warning("tracker hit lost: %s", exc.__class__.__name__)
        return response
