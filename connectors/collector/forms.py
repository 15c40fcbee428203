"""`POST /v1/forms/{form_id}`: HTML form posts (urlencoded or JSON) that identify the visitor.

Field mapping to profile attributes (first match wins, case-insensitive):

| attribute | accepted field names |
|---|---|
| email (required) | email, email_address |
| first_name | first_name, firstname, fname, given_name |
| last_name | last_name, lastname, lname, family_name, surname |
| company | company, company_name, organization, organisation |
| job_title | job_title, jobtitle, title, role |
| phone | phone, phone_number, telephone, tel, mobile |
| country | country, country_code |
| consent | consent, marketing_consent, gdpr_consent, opt_in (on/true/yes/1 -> "true", else "false") |

Control fields: `_hp` honeypot (must stay empty), `_ts` epoch milliseconds when the form was
rendered (posts faster than LEADFLOW_FORM_MIN_FILL_SECONDS, or without `_ts` unless
LEADFLOW_FORM_REQUIRE_TS=false, count as bots), `_redirect` thank-you URL (read as a browser reads
it, redirects.py; its host must be in LEADFLOW_FORM_REDIRECT_HOSTS), `_aid` anonymous id when the
page cannot send the `lf_aid` cookie, and a CAPTCHA widget's token (captcha.py). Other fields travel
as properties of `form.submitted`.

Abuse limits, in order, cheapest first: posts per client IP (LEADFLOW_RATE_LIMIT_PER_IP, before
the body is read), then the body's checks (400), the bot checks (answered like a success), posts
per email address (LEADFLOW_RATE_LIMIT_PER_EMAIL), then the CAPTCHA. A limit answers 429 with
`Retry-After` and the reason.

Answers: a browser (it prefers text/html) gets a thank-you page, or `_redirect`; API clients get JSON.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from connectors.collector.bodies import Refused, read_body
from connectors.collector.captcha import TOKEN_FIELDS, CaptchaUnavailable, CaptchaVerifier, token_of
from connectors.collector.events_api import unavailable
from streams.core.hygiene import Unclean, checked_all
from connectors.collector.intake import Intake
from connectors.collector.json_reader import NotJson, read_json
from connectors.collector.pixel import COOKIE, set_anonymous_cookie, tracking_allowed
from connectors.collector.privacy import client_details, client_ip
from connectors.collector.rate_limit import RateLimiter, client_key, rate_of, retry_after
from connectors.collector.thanks import DEFAULT_THANKS, error_page, prefers_html, thank_you_page
from leadflow.config import Config
from leadflow.redirects import RedirectError, allowed_redirect
from schemas.records import Interaction
from streams.core.identity import InvalidEmail, anonymous_key, normalize_email, prospect_id_for

SOURCE = "form"
MAX_FORM_BYTES = 64 * 1024
MAX_FIELD = 2000
MAX_FIELDS = 100
FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address"),
    "first_name": ("first_name", "firstname", "fname", "given_name"),
    "last_name": ("last_name", "lastname", "lname", "family_name", "surname"),
    "company": ("company", "company_name", "organization", "organisation"),
    "job_title": ("job_title", "jobtitle", "title", "role"),
    "phone": ("phone", "phone_number", "telephone", "tel", "mobile"),
    "country": ("country", "country_code"),
    "consent": ("consent", "marketing_consent", "gdpr_consent", "opt_in"),
}
_ALIASES = {alias: attribute for attribute, aliases in FIELDS.items() for alias in aliases}
_FORM_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")  # anchored: always used with fullmatch
ANONYMOUS_ID = re.compile(r"[A-Za-z0-9-]{1,100}")  # `_aid`, and the tracker's id (fullmatch: no trailing newline)
CONTROL = frozenset(("_hp", "_ts", "_redirect", "_aid", *TOKEN_FIELDS))


class FormError(ValueError):
    pass


def profile_from_fields(fields: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split posted fields into profile attributes and other properties (pure)."""
    profile: dict[str, str] = {}
    properties: dict[str, str] = {}
    for name, value in fields.items():
        if name in CONTROL:
            continue
        attribute = _ALIASES.get(name.lower())
        if attribute is None:
            properties[name] = value
        elif attribute not in profile:
            profile[attribute] = value.strip()
    if "consent" in profile:
        profile["consent"] = "true" if profile["consent"].lower() in ("on", "true", "yes", "1") else "false"
    return profile, properties


class FormHandler:
    def __init__(self, config: Config, intake: Intake) -> None:
        self._config = config
        self._intake = intake
        path = config.collector.form_thanks_html
        self._thanks = path.read_text(encoding="utf-8") if path else DEFAULT_THANKS
        settings = config.collector
        self._per_ip = RateLimiter(rate_of(settings.rate_limit_per_ip))
        self._per_email = RateLimiter(rate_of(settings.rate_limit_per_email))
        secret = config.secrets.form_captcha_secret
        self._captcha = CaptchaVerifier(settings.form_captcha_verify_url, secret) \
            if settings.form_captcha_verify_url and secret else None

    async def close(self) -> None:
        if self._captcha is not None:
            await self._captcha.close()

    async def handle(self, request: web.Request) -> web.Response:
        form_id = request.match_info["form_id"]
        body = b""
        wait = self._per_ip.take(client_key(client_ip(request)), self._intake.clock() / 1000)
        if wait:
            return await self._refuse(request, 429, "rate_limited", "too many form posts from this client; "
                                      "retry later", b"", {"Retry-After": retry_after(wait)})
        try:
            if not _FORM_ID.fullmatch(form_id):
                raise FormError("form id may use letters, digits, '.', '_' and '-'")
            try:
                body = await read_body(request, MAX_FORM_BYTES)
            except Refused as refused:
                body = refused.body
                raise FormError(f"form {refused.reason}") from None
            fields = self._fields(request, body)
            profile, properties = profile_from_fields(fields)
            redirect = self._redirect(fields.get("_redirect"))
            try:
                email = normalize_email(profile.pop("email", ""))
            except InvalidEmail:
                raise FormError("a valid email address is required") from None
        except FormError as exc:
            return await self._refuse(request, 400, "invalid_form", str(exc), body)
        response = self._answer(request, redirect, form_id, profile.get("first_name"))
        bot = self._bot_reason(fields)
        if bot:  # answer like a success so bots learn nothing
            await self._intake.reject(SOURCE, "bot", bot, body, request.content_type)
            return response
        wait = self._per_email.take(email, self._intake.clock() / 1000)
        if wait:
            return await self._refuse(request, 429, "rate_limited", "too many form posts for this email address; "
                                      "retry later", body, {"Retry-After": retry_after(wait)})
        if self._captcha is not None:
            try:
                problem = await self._captcha.check(token_of(fields), client_ip(request))
            except CaptchaUnavailable as exc:
                return await self._refuse(request, 503, "captcha_unavailable", f"the CAPTCHA could not be "
                                          f"checked ({exc}); retry later", body, {"Retry-After": "10"})
            if problem:
                return await self._refuse(request, 400, "captcha", problem, body)
        visitor = request.cookies.get(COOKIE) or fields.get("_aid")
        if visitor is not None and not ANONYMOUS_ID.fullmatch(visitor):
            visitor = None
        now = self._intake.clock()
        pid = prospect_id_for(email)
        ip, user_agent = client_details(request, self._config)
        base = dict(prospect_id=pid, email=email, anonymous_id=visitor, occurred_at=now, received_at=now,
                    source=SOURCE, form_id=form_id, url=request.headers.get("Referer"),
                    ip=ip, user_agent=user_agent)
        submission = str(uuid.uuid4())
        out = [
            Interaction(event_id=f"form:{submission}", prospect_key=pid, type="form.submitted", traits=profile,
                        properties=properties, **base),
            Interaction(event_id=f"form:{submission}#profile", prospect_key=pid, type="profile.updated",
                        traits=profile, **base),
        ]
        if visitor:
            out.append(Interaction(event_id=f"form:{submission}#link", prospect_key=anonymous_key(visitor),
                                   type="identity.linked", **base))
        try:
            out = checked_all(out)  # hygiene: no control characters, bounded lengths; the reason names the field
        except Unclean as exc:
            return await self._refuse(request, 400, "invalid_form", f"field {exc}", body)
        try:
            await self._intake.accept(SOURCE, out)
        except Exception as exc:
            return unavailable(exc)
        if visitor and tracking_allowed(request, self._config.collector.tracking_consent):
            set_anonymous_cookie(request, response, visitor)
        return response

    async def _refuse(self, request: web.Request, status: int, code: str, reason: str, body: bytes,
                      headers: dict[str, str] | None = None) -> web.Response:
        """Recorded as rejected; the reason as a small HTML page for a browser, as JSON for an API client."""
        await self._intake.reject(SOURCE, code, reason, body, request.content_type)
        if prefers_html(request.headers.get("Accept")):
            return web.Response(text=error_page(reason, request.headers.get("Referer")), status=status,
                                content_type="text/html", headers=headers)
        return web.json_response({"error": reason}, status=status, headers=headers)

    def _answer(self, request: web.Request, redirect: str | None, form_id: str, first_name: str | None) -> web.Response:
        """303 to `_redirect`; else a thank-you page for a browser, 202 JSON for an API client."""
        if redirect:
            return web.Response(status=303, headers={"Location": redirect})
        if prefers_html(request.headers.get("Accept")):
            page = thank_you_page(self._thanks, first_name, form_id, request.headers.get("Referer"))
            return web.Response(text=page, status=200, content_type="text/html")
        return web.json_response({"status": "accepted"}, status=202)

    @staticmethod
    def _fields(request: web.Request, body: bytes) -> dict[str, str]:
        if request.content_type == "application/json":
            try:
                doc: Any = read_json(body)
            except NotJson as exc:
                raise FormError(str(exc)) from None
            if not isinstance(doc, dict):
                raise FormError("JSON body must be an object of fields")
            raw = {str(k): v for k, v in doc.items()}
        elif request.content_type == "application/x-www-form-urlencoded":
            try:
                raw = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise FormError("form body is not UTF-8") from None
        else:
            raise FormError("send application/x-www-form-urlencoded or application/json")
        if len(raw) > MAX_FIELDS:
            raise FormError(f"more than {MAX_FIELDS} fields")
        fields = {}
        for name, value in raw.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            if not isinstance(value, (str, int, float)):
                raise FormError(f"field {name[:40]!r} must be text")
            text = str(value)
            if len(text) > MAX_FIELD or len(name) > 100:
                raise FormError(f"field {name[:40]!r} is too long")
            fields[name] = text
        return fields

    def _redirect(self, url: str | None) -> str | None:
        if not url:
            return None
        try:
            return allowed_redirect(url, self._config.collector.form_redirect_hosts).url
        except RedirectError as exc:
            raise FormError(str(exc)) from None

    def _bot_reason(self, fields: dict[str, str]) -> str | None:
        if fields.get("_hp"):
            return "honeypot field filled"
        rendered = fields.get("_ts")
        if not rendered and self._config.collector.form_require_ts:
            return "render timestamp (_ts) missing"
        if rendered:
            try:
                elapsed = (self._intake.clock() - int(rendered)) / 1000
            except ValueError:
                return "render timestamp is not a number"
            if elapsed < self._config.collector.form_min_fill_s:
                return f"posted {elapsed:.1f}s after rendering"
        return None
