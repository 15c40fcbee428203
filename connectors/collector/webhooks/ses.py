"""Amazon SES events delivered by SNS: SNS signature verification, subscription confirmation, event mapping.

Certificates and subscription confirmations are fetched with aiohttp (``http_get``), never
with blocking I/O: the collector serves every endpoint from one event loop, and a slow SNS
host must delay only the webhook that waits for it. Concurrent requests that need the same
uncached certificate share one fetch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import re
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from connectors.collector.webhooks.common import Malformed, Mapped, Unauthorized, email_event, iso_ms, parse_json, text

VENDOR = "ses"
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
FETCH_TIMEOUT_S = 10.0
HttpGet = Callable[[str], Awaitable[bytes]]


async def http_get(url: str) -> bytes:
    """The body of a GET (an error for a non-2xx answer), within FETCH_TIMEOUT_S; rare, so no pooled session."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)) as session:
        async with session.get(url) as response:
            response.raise_for_status()
            return await response.read()


def parse_envelope(body: bytes) -> dict[str, Any]:
    envelope = parse_json(body)
    if not isinstance(envelope, dict) or envelope.get("Type") not in (
            "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
        raise Malformed("not an SNS message")
    return envelope


def string_to_sign(envelope: dict[str, Any]) -> bytes:
    keys = NOTIFICATION_KEYS if envelope["Type"] == "Notification" else SUBSCRIPTION_KEYS
    return "".join(f"{k}\n{envelope[k]}\n" for k in keys if k in envelope).encode()


class SnsVerifier:
    """Certificates come only from allowed SNS hosts over https (or a configured local file), cached."""

    def __init__(self, host_pattern: str, cert_file: str | None, get: HttpGet = http_get) -> None:
        self._hosts = re.compile(host_pattern)
        self._get = get
        self._cache: dict[str, x509.Certificate] = {}
        self._fetching: dict[str, asyncio.Future[x509.Certificate]] = {}
        self._pinned = x509.load_pem_x509_certificate(open(cert_file, "rb").read()) if cert_file else None

    def allowed(self, url: Any) -> bool:
        parts = urlsplit(url) if isinstance(url, str) else None
        return bool(parts and parts.scheme == "https" and parts.hostname and self._hosts.match(parts.hostname))

    async def verify(self, envelope: dict[str, Any]) -> None:
        version = str(envelope.get("SignatureVersion"))
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
        if algorithm is None:
            raise Unauthorized(f"unsupported SignatureVersion {version!r}")
        url = envelope.get("SigningCertURL")
        if not self.allowed(url):
            raise Unauthorized(f"SigningCertURL {str(url)[:100]!r} is not an allowed SNS host")
        certificate = await self._certificate(url)
        try:
            signature = base64.b64decode(str(envelope.get("Signature", "")), validate=True)
            certificate.public_key().verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm)
        except (InvalidSignature, binascii.Error, KeyError, TypeError, ValueError):
            raise Unauthorized("SNS signature does not verify") from None

    async def _certificate(self, url: str) -> x509.Certificate:
        if self._pinned is not None:
            return self._pinned
        if url in self._cache:
            return self._cache[url]
        fetching = self._fetching.get(url)
        if fetching is None:  # the first request to need it fetches; the others wait for the same fetch
            fetching = self._fetching[url] = asyncio.ensure_future(self._fetch(url))
            fetching.add_done_callback(functools.partial(self._fetched, url))
        return await asyncio.shield(fetching)  # a request that goes away does not cancel the others' fetch

    def _fetched(self, url: str, done: asyncio.Future[x509.Certificate]) -> None:
        self._fetching.pop(url, None)
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody waits for any more is not logged as unhandled

    async def _fetch(self, url: str) -> x509.Certificate:
        try:
            certificate = x509.load_pem_x509_certificate(await self._get(url))
        except Exception as exc:
            raise Unauthorized(f"cannot fetch the SNS signing certificate: {exc.__class__.__name__}") from None
        self._cache[url] = certificate
        return certificate


def parse_event(message: str, now_ms: int) -> Mapped:
    if not isinstance(message, str):
        raise Malformed("SNS Message is not SES JSON")
    event = parse_json(message)
    if not isinstance(event, dict):
        raise Malformed("SNS Message is not an SES event")
    kind = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    message_id = text(mail.get("messageId"))
    mapped = Mapped()
    if kind == "Bounce":
        bounce = _obj(event, "bounce")
        props = {"bounce": "hard" if bounce.get("bounceType") == "Permanent" else "soft",
                 "reason": text(bounce.get("bounceSubType")) or ""}
        for r in _list(bounce, "bouncedRecipients"):
            _add(mapped, f"{bounce.get('feedbackId')}:{r.get('emailAddress')}", "email.bounced", r.get("emailAddress"),
                 bounce.get("timestamp"), now_ms, message_id, props=props, raw=event)
    elif kind == "Complaint":
        complaint = _obj(event, "complaint")
        for r in _list(complaint, "complainedRecipients"):
            _add(mapped, f"{complaint.get('feedbackId')}:{r.get('emailAddress')}", "email.complained",
                 r.get("emailAddress"), complaint.get("timestamp"), now_ms, message_id, raw=event)
    elif kind in ("Delivery", "Open", "Click"):
        detail = _obj(event, kind.lower())
        recipients = detail.get("recipients") if kind == "Delivery" else mail.get("destination")
        link = text(detail.get("link"))
        suffix = hashlib.sha256((link or "").encode()).hexdigest()[:12]
        for recipient in recipients if isinstance(recipients, list) else []:
            _add(mapped, f"{message_id}:{kind.lower()}:{detail.get('timestamp')}:{recipient}:{suffix}",
                 {"Delivery": "email.delivered", "Open": "email.opened", "Click": "email.clicked"}[kind],
                 recipient, detail.get("timestamp"), now_ms, message_id, url=link, raw=event)
    else:
        mapped.ignored.append(f"{VENDOR}.{kind}")
        return mapped
    if not mapped.interactions and not mapped.invalid:
        mapped.invalid.append((f"SES {kind} event without recipients", event))
    return mapped


def _add(mapped: Mapped, vendor_id: str, type_: str, recipient: Any, at: Any, now_ms: int, message_id: str | None,
         url: str | None = None, props: dict[str, str] | None = None, raw: Any = None) -> None:
    email_event(mapped, vendor=VENDOR, vendor_id=vendor_id, type_=type_, recipient=recipient,
                occurred_at=iso_ms(at, now_ms), received_at=now_ms, message_id=message_id, url=url,
                properties=props, raw=raw)


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _list(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
