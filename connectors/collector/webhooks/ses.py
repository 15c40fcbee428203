"""Amazon SES events delivered by SNS: SNS signature verification, subscription confirmation, event mapping.

Certificates and subscription confirmations are fetched with aiohttp (``http_get``), never
with blocking I/O: the collector serves every endpoint from one event loop, and a slow SNS
host must delay only the webhook that waits for it. Concurrent requests that need the same
uncached certificate share one fetch.

Certificates come from SNS's own hosts only (LEADFLOW_SNS_CERT_HOSTS: never
``sns.s3.amazonaws.com``, an S3 bucket host anyone can publish under), from the
``/SimpleNotificationService-<hex>.pem`` path SNS uses, and must name SNS in their subject
(CN or SAN ``sns.amazonaws.com``, or the host they came from). They are cached by host and
path, the query ignored, in a bounded LRU: varying a URL neither refetches nor grows the cache.
A message's signed ``Timestamp`` must lie within LEADFLOW_WEBHOOK_MAX_AGE_SECONDS of now.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import re
from collections import OrderedDict
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

from connectors.collector.webhooks.common import (Malformed, action_id_in, Mapped, Unauthorized, email_event, iso_ms,
                                                   parse_json, text)
from connectors.collector.webhooks.replay import check_age, iso_seconds

VENDOR = "ses"
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
FETCH_TIMEOUT_S = 10.0
CERT_PATH = re.compile(r"^/SimpleNotificationService-[0-9a-f]+\.pem$")
SNS_SUBJECT = "sns.amazonaws.com"
CACHED_CERTIFICATES = 32  # SNS signs with a handful per region; the bound holds whatever URLs arrive
DEFAULT_MAX_AGE_S = 600.0
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

    def __init__(self, host_pattern: str, cert_file: str | None, get: HttpGet = http_get,
                 max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self._hosts = re.compile(host_pattern)
        self._get = get
        self._max_age_s = max_age_s
        self._cache: OrderedDict[tuple[str, str], x509.Certificate] = OrderedDict()
        self._fetching: dict[tuple[str, str], asyncio.Future[x509.Certificate]] = {}
        self._pinned = x509.load_pem_x509_certificate(open(cert_file, "rb").read()) if cert_file else None

    def allowed(self, url: Any) -> bool:
        """An https URL on an allowed SNS host and port; False for anything else, unparsable ones included
        (`https://[`, a port out of range), which urlsplit and .port raise on."""
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            return bool(parts and parts.scheme == "https" and parts.hostname and parts.port in (None, 443)
                        and self._hosts.match(parts.hostname))
        except ValueError:
            return False

    async def verify(self, envelope: dict[str, Any], now_s: float) -> None:
        version = str(envelope.get("SignatureVersion"))
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
        if algorithm is None:
            raise Unauthorized(f"unsupported SignatureVersion {version!r}")
        check_age(iso_seconds(envelope.get("Timestamp")), now_s, self._max_age_s)  # signed, so checked below too
        url = envelope.get("SigningCertURL")
        if not self.allowed(url):
            raise Unauthorized(f"SigningCertURL {str(url)[:100]!r} is not an allowed SNS host")
        parts = urlsplit(url)
        if not CERT_PATH.match(parts.path):
            raise Unauthorized(f"SigningCertURL path {parts.path[:100]!r} is not an SNS certificate")
        certificate = await self._certificate(parts.hostname or "", parts.path)
        try:
            signature = base64.b64decode(str(envelope.get("Signature", "")), validate=True)
            certificate.public_key().verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm)
        except (InvalidSignature, binascii.Error, KeyError, TypeError, ValueError):
            raise Unauthorized("SNS signature does not verify") from None

    async def _certificate(self, host: str, path: str) -> x509.Certificate:
        if self._pinned is not None:
            return self._pinned
        key = (host, path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        fetching = self._fetching.get(key)
        if fetching is None:  # the first request to need it fetches; the others wait for the same fetch
            fetching = self._fetching[key] = asyncio.ensure_future(self._fetch(key))
            fetching.add_done_callback(functools.partial(self._fetched, key))
        return await asyncio.shield(fetching)  # a request that goes away does not cancel the others' fetch

    def _fetched(self, key: tuple[str, str], done: asyncio.Future[x509.Certificate]) -> None:
        self._fetching.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody waits for any more is not logged as unhandled

    async def _fetch(self, key: tuple[str, str]) -> x509.Certificate:
        host, path = key
        try:
            certificate = x509.load_pem_x509_certificate(await self._get(f"https://{host}{path}"))
        except Exception as exc:
            raise Unauthorized(f"cannot fetch the SNS signing certificate: {exc.__class__.__name__}") from None
        if not names_sns(certificate, host):
            raise Unauthorized("the certificate at SigningCertURL is not issued to SNS")
        self._cache[key] = certificate
        while len(self._cache) > CACHED_CERTIFICATES:
            self._cache.popitem(last=False)
        return certificate


def names_sns(certificate: x509.Certificate, host: str) -> bool:
    """The certificate's subject CN or a SAN DNS name is sns.amazonaws.com (what SNS's signing certificates
    carry) or the SNS host it was fetched from (e.g. sns.cn-north-1.amazonaws.com.cn)."""
    names = {attr.value for attr in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        names |= set(certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                     .value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return bool({str(name).lower() for name in names} & {SNS_SUBJECT, host.lower()})


def parse_event(message: str, now_ms: int) -> Mapped:
    if not isinstance(message, str):
        raise Malformed("SNS Message is not SES JSON")
    event = parse_json(message)
    if not isinstance(event, dict):
        raise Malformed("SNS Message is not an SES event")
    kind = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    message_id = action_id_in(mail.get("tags")) or text(mail.get("messageId"))
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
