"""SendGrid Event Webhook: a JSON array, signed with ECDSA P-256 over timestamp + raw body."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.collector.webhooks.common import (Malformed, action_id_in, Mapped, Unauthorized, email_event, epoch_ms,
                                                   parse_json, text)
from connectors.collector.webhooks.replay import check_age

VENDOR = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
TYPES = {
    "delivered": "email.delivered", "open": "email.opened", "click": "email.clicked", "bounce": "email.bounced",
    "spamreport": "email.complained", "unsubscribe": "email.unsubscribed", "group_unsubscribe": "email.unsubscribed",
}


def load_public_key(configured: str) -> ec.EllipticCurvePublicKey:
    """The key from SendGrid's settings page: base64 DER, or PEM."""
    data = configured.strip()
    key = (serialization.load_pem_public_key(data.encode()) if data.startswith("-----")
           else serialization.load_der_public_key(base64.b64decode(data)))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("LEADFLOW_SENDGRID_PUBLIC_KEY is not an ECDSA public key")
    return key


def verify(key: ec.EllipticCurvePublicKey, signature: str | None, timestamp: str | None, body: bytes,
           now_s: float, max_age_s: float) -> None:
    """ECDSA over timestamp + body, and the timestamp within the window (a captured request cannot be replayed
    later). The age is checked first: it is cheaper than ECDSA, and a stale request is refused either way."""
    if not signature or not timestamp:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be whole epoch seconds")
    check_age(int(timestamp), now_s, max_age_s)
    try:
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise Unauthorized("signature does not verify") from None


def parse(body: bytes, now_ms: int) -> Mapped:
    events = parse_json(body)
    if not isinstance(events, list):
        raise Malformed("body must be a JSON array of events")
    mapped = Mapped()
    for event in events:
        if not isinstance(event, dict) or not text(event.get("sg_event_id")):
            mapped.invalid.append(("event without sg_event_id", event))
            continue
        kind = event.get("event")
        if kind not in TYPES:
            mapped.ignored.append(f"{VENDOR}.{kind}")
            continue
        props = {}
        if kind == "bounce":
            props["bounce"] = "soft" if event.get("type") == "blocked" else "hard"
            props["reason"] = text(event.get("reason")) or ""
        email_event(mapped, vendor=VENDOR, vendor_id=event["sg_event_id"], type_=TYPES[kind],
                    recipient=event.get("email"), occurred_at=epoch_ms(event.get("timestamp"), now_ms),
                    received_at=now_ms, message_id=action_id_in(event) or text(event.get("sg_message_id")), url=text(event.get("url")),
                    machine=event.get("sg_machine_open") is True, properties=props, raw=event)
    return mapped
