"""HTTP glue for the vendor webhooks: authenticate, map, keep, and answer so vendors retry only what we lost.

2xx: stored (or deliberately ignored). 4xx: malformed or unauthenticated, do not retry
(Mailgun: 406 is its "stop retrying" code). 503: we could not keep it, retry later.
An endpoint whose secret is not configured answers 404 and says which setting enables it.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from leadflow.http_auth import basic_auth_ok, unauthorized
from connectors.collector.bodies import Refused, read_body
from connectors.collector.events_api import unavailable
from connectors.collector.intake import Intake
from connectors.collector.webhooks import mailgun, postmark, replay, sendgrid, ses
from connectors.collector.webhooks.common import Malformed, Mapped, Unauthorized, vetted
from leadflow.config import Config
from schemas.timestamps import latest

MAX_BODY = 1024 * 1024
JSON = "application/json"


def not_configured(vendor: str, setting: str) -> web.Response:
    return web.json_response({"error": f"the {vendor} webhook is not configured: set {setting}"}, status=404)


class WebhookHandlers:
    def __init__(self, config: Config, intake: Intake, http_get: ses.HttpGet = ses.http_get) -> None:
        secrets = config.secrets
        self._intake = intake
        self._max_age_s = config.collector.webhook_max_age_s
        self._sendgrid_key = sendgrid.load_public_key(secrets.sendgrid_public_key) \
            if secrets.sendgrid_public_key else None
        self._mailgun_key = secrets.mailgun_signing_key
        self._mailgun_tokens = replay.TokenLedger(config.data_dir, self._max_age_s) if self._mailgun_key else None
        self._postmark_auth = secrets.postmark_basic_auth
        self._ses_topics = set(secrets.ses_topic_arns)
        cert_file = str(config.collector.sns_cert_file) if config.collector.sns_cert_file else None
        self._sns = ses.SnsVerifier(config.collector.sns_cert_hosts, cert_file, http_get, self._max_age_s)
        self._http_get = http_get
        self._max_future_s = config.collector.max_future_s

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/webhooks/sendgrid", self.sendgrid), web.post("/v1/webhooks/mailgun", self.mailgun),
                web.post("/v1/webhooks/postmark", self.postmark), web.post("/v1/webhooks/ses", self.ses)]

    async def sendgrid(self, request: web.Request) -> web.Response:
        if self._sendgrid_key is None:
            return not_configured("SendGrid", "LEADFLOW_SENDGRID_PUBLIC_KEY")
        body = await self._body(request)
        try:
            sendgrid.verify(self._sendgrid_key, request.headers.get(sendgrid.SIGNATURE_HEADER),
                            request.headers.get(sendgrid.TIMESTAMP_HEADER), body, self._intake.clock() / 1000,
                            self._max_age_s)
            mapped = sendgrid.parse(body, self._intake.clock())
        except Unauthorized as exc:
            return await self._refuse("sendgrid", 401, "unauthorized", str(exc), body)
        except Malformed as exc:
            return await self._refuse("sendgrid", 400, "malformed", str(exc), body)
        return await self._keep("sendgrid", mapped)

    async def mailgun(self, request: web.Request) -> web.Response:
        if not self._mailgun_key or self._mailgun_tokens is None:
            return not_configured("Mailgun", "LEADFLOW_MAILGUN_SIGNING_KEY")
        body = await self._body(request)
        try:
            doc = mailgun.parse_body(body)
            # in a thread: the token ledger is a SQLite file shared with the other collector processes, and a
            # write may wait for their lock; the event loop never does
            await asyncio.to_thread(mailgun.verify, self._mailgun_key, doc["signature"], self._intake.clock() / 1000,
                                    self._mailgun_tokens, self._max_age_s)
            mapped = mailgun.parse_event(doc["event-data"], self._intake.clock())
        except mailgun.Replayed as exc:
            return await self._refuse("mailgun", 406, "replayed", str(exc), body)
        except Unauthorized as exc:
            return await self._refuse("mailgun", 401, "unauthorized", str(exc), body)
        except Malformed as exc:
            return await self._refuse("mailgun", 406, "malformed", str(exc), body)
        return await self._keep("mailgun", mapped)

    async def postmark(self, request: web.Request) -> web.Response:
        if not self._postmark_auth:
            return not_configured("Postmark", "LEADFLOW_POSTMARK_BASIC_AUTH")
        if not basic_auth_ok(request, self._postmark_auth):
            return unauthorized("Postmark webhooks need the configured HTTP Basic credentials", "postmark")
        body = await self._body(request)
        try:
            mapped = postmark.parse(body, self._intake.clock())
        except Malformed as exc:
            return await self._refuse("postmark", 400, "malformed", str(exc), body)
        return await self._keep("postmark", mapped)

    async def ses(self, request: web.Request) -> web.Response:
        if not self._ses_topics:
            return not_configured("SES", "LEADFLOW_SES_TOPIC_ARNS")
        body = await self._body(request)
        try:
            envelope = ses.parse_envelope(body)
            if envelope.get("TopicArn") not in self._ses_topics:
                raise Unauthorized(f"TopicArn {str(envelope.get('TopicArn'))[:200]!r} is not in LEADFLOW_SES_TOPIC_ARNS")
            await self._sns.verify(envelope, self._intake.clock() / 1000)
            if envelope["Type"] != "Notification":
                return await self._confirm(envelope, body)
            mapped = ses.parse_event(envelope.get("Message"), self._intake.clock())
        except Unauthorized as exc:
            return await self._refuse("ses", 403, "unauthorized", str(exc), body)
        except Malformed as exc:
            return await self._refuse("ses", 400, "malformed", str(exc), body)
        return await self._keep("ses", mapped)

    async def _confirm(self, envelope: dict, body: bytes) -> web.Response:
        if envelope["Type"] == "UnsubscribeConfirmation":
            return web.json_response({"status": "unsubscribed"})
        url = envelope.get("SubscribeURL")
        if not self._sns.allowed(url):
            return await self._refuse("ses", 403, "unauthorized", "SubscribeURL is not an allowed SNS host", body)
        try:
            await self._http_get(url)  # aiohttp: other requests go on meanwhile
        except Exception as exc:
            return web.json_response({"error": f"could not confirm the subscription: {exc.__class__.__name__}"},
                                     status=503, headers={"Retry-After": "30"})
        return web.json_response({"status": "subscribed"})

    async def _keep(self, vendor: str, mapped: Mapped) -> web.Response:
        source = f"webhook.{vendor}"
        mapped = vetted(mapped, latest(self._intake.clock(), self._max_future_s))
        for reason, raw in mapped.invalid:
            await self._intake.reject(source, "invalid_event", reason, _json_bytes(raw), JSON, authenticated=True)
        for kind in mapped.ignored:
            self._intake.ignore(source, kind)
        if mapped.interactions:
            try:
                await self._intake.accept(source, mapped.interactions)
            except Exception as exc:
                return unavailable(exc)
        return web.json_response({"accepted": len(mapped.interactions), "ignored": len(mapped.ignored),
                                  "invalid": len(mapped.invalid)})

    async def _refuse(self, vendor: str, status: int, code: str, reason: str, body: bytes) -> web.Response:
        await self._intake.reject(f"webhook.{vendor}", code, reason, body, JSON)
        return web.json_response({"error": reason}, status=status)

    @staticmethod
    async def _body(request: web.Request) -> bytes:
        """The body (inflated if the vendor compressed it); 413/400/415 with the reason otherwise."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
        try:
            return await read_body(request, MAX_BODY)
        except Refused as refused:
            status = {413: web.HTTPRequestEntityTooLarge, 415: web.HTTPUnsupportedMediaType}.get(refused.status)
            if status is web.HTTPRequestEntityTooLarge:
                raise status(max_size=MAX_BODY, actual_size=MAX_BODY + 1, text=json.dumps({"error": refused.reason}),
                             content_type=JSON) from None
            raise (status or web.HTTPBadRequest)(text=json.dumps({"error": refused.reason}),
                                                 content_type=JSON) from None


def _json_bytes(raw: object) -> bytes:
    return json.dumps(raw, default=str).encode()
