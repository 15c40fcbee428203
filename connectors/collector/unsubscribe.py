"""`GET|POST /t/u`: the signed one-click unsubscribe link of an email (RFC 8058), made by ``links.unsubscribe_url``.

Why two methods: mail scanners and link previewers fetch every URL in an email, so a GET never unsubscribes;
it shows a small confirmation page whose button POSTs to the same URL. The POST is what RFC 8058 defines:
mailbox providers (Gmail, Yahoo, Outlook, Apple Mail) send ``List-Unsubscribe=One-Click`` as
``application/x-www-form-urlencoded`` to the URL of the message's ``List-Unsubscribe`` header, without cookies
or a browser. The signature (``LEADFLOW_LINK_SECRET``) is what authorizes the request, so the body is not
required to be exactly that (the page's button sends the same field anyway).

A verified POST records one ``email.unsubscribed`` interaction for the link's prospect (``p``, the prospect id:
the prospect key of a known person) and message (``m``). Its ``event_id`` derives from (prospect, message) only,
so a replayed or repeated POST (a provider retrying, a person clicking twice) is the same event and the worker
drops it; the worker suppresses marketing email on it (``streams.core.automation_triggers.SUPPRESSING``).

Nothing here tracks: no cookie, no pixel, no IP or user agent recorded; the pages are escaped and not cached.
A bad link answers 400 with the reason (a page for browsers) and a ``leadflow.rejected`` record; the only 5xx is
a 503 when the interaction could not be kept (spool full), so the sender retries rather than being told a lie.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode

from aiohttp import web

from connectors.collector.intake import Intake
from connectors.collector.thanks import prefers_html, render
from leadflow.config import Config
from leadflow.signed_links import UNSUBSCRIBED, LinkError, VerifiedLink, verify_unsubscribe
from schemas.records import Interaction

log = logging.getLogger("leadflow.collector")
SOURCE = "unsubscribe"
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"  # RFC 8058 section 3.1
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the signed URL stays out of other sites' logs
    "X-Robots-Tag": "noindex",
    # No script, no third-party anything; the form may post to this URL only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
}

_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}"
_PAGE = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"robots\" content=\"noindex\"><title>{{title}}</title><style>" + _STYLE + "</style>"
         "</head><body>\n<h1>{{title}}</h1>\n<p>{{text}}</p>\n")
# Without an action attribute a form posts to the page's own URL, query included: the signed link as it came,
# whatever proxy path prefix it went through.
CONFIRM_PAGE = _PAGE + (f"<form method=\"post\"><input type=\"hidden\" name=\"{ONE_CLICK_FIELD}\" "
                        f"value=\"{ONE_CLICK_VALUE}\"><button type=\"submit\">Unsubscribe</button></form>\n"
                        "</body></html>\n")
DONE_PAGE = _PAGE + "</body></html>\n"


def unsubscribe_event_id(prospect_id: str, message_id: str) -> str:
    """``unsub:<32 hex>``, equal for equal (prospect, message): every repeat of one link's POST is one event."""
    key = "\n".join((prospect_id, UNSUBSCRIBED, message_id))
    return f"unsub:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def page(title: str, text: str, template: str = DONE_PAGE) -> str:
    return render(template, title=title, text=text)


class UnsubscribeHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._config = config
        self._intake = intake

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/t/u", self.confirm), web.post("/t/u", self.unsubscribe)]

    async def confirm(self, request: web.Request) -> web.Response:
        """GET (and HEAD): the confirmation page; records nothing."""
        link = await self._verified(request)
        if isinstance(link, web.Response):
            return link
        text = "Click the button to stop receiving marketing email from us."
        return web.Response(text=page("Unsubscribe?", text, CONFIRM_PAGE), content_type="text/html",
                            headers=HEADERS)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        """POST: one-click from a mailbox provider, or the confirmation page's button."""
        link = await self._verified(request)
        if isinstance(link, web.Response):
            return link
        assert link.prospect_id is not None and link.message_id is not None  # verify_unsubscribe checked both
        now = self._intake.clock()
        interaction = Interaction(
            event_id=unsubscribe_event_id(link.prospect_id, link.message_id), prospect_key=link.prospect_id,
            prospect_id=link.prospect_id, type=UNSUBSCRIBED, occurred_at=now, received_at=now, source=SOURCE,
            message_id=link.message_id,
        )
        try:
            await self._intake.accept(SOURCE, [interaction])
        except Exception as exc:
            log.warning("unsubscribe not kept: %s", exc.__class__.__name__)
            return self._answer(request, 503, "Please try again",
                                "We could not record your request just now; please try again in a minute.",
                                {"Retry-After": "10"})
        return self._answer(request, 200, "You are unsubscribed",
                            "You will not receive marketing email from us any more.")

    async def _verified(self, request: web.Request) -> VerifiedLink | web.Response:
        """The link's prospect and message, or the 400 answer (recorded on ``leadflow.rejected``)."""
        query = request.query
        secret = self._config.secrets.link_secret
        try:
            if not secret:
                raise LinkError("unsubscribe links are not configured (LEADFLOW_LINK_SECRET)")
            return verify_unsubscribe(secret, query)
        except LinkError as exc:
            reason = f"invalid unsubscribe link: {exc}"
            await self._intake.reject(SOURCE, "bad_link", str(exc), urlencode(list(query.items())).encode(), None)
            return self._answer(request, 400, "This unsubscribe link is not valid", reason)

    @staticmethod
    def _answer(request: web.Request, status: int, title: str, text: str,
                headers: dict[str, str] | None = None) -> web.Response:
        """A page for a browser, a line of text for anyone else (mailbox providers read no page)."""
        if prefers_html(request.headers.get("Accept")):
            return web.Response(text=page(title, text), status=status, content_type="text/html",
                                headers={**HEADERS, **(headers or {})})
        return web.Response(text=f"{text if status >= 400 else title}\n", status=status,
                            headers={**HEADERS, **(headers or {})})
