"""Mailgun webhooks: ``{signature: {timestamp, token, signature}, event-data: {...}}``, HMAC-SHA256 signed."""

from __future__ import annotations

import hashlib
import hmac
from connectors.collector.webhooks.common import (Malformed, action_id_in, Mapped, Unauthorized, email_event, epoch_ms,
                                                   parse_json, text)
from connectors.collector.webhooks.replay import Replayed, TokenLedger, check_age

__all__ = ["Replayed", "TOKEN_LENGTH", "parse_body", "parse_event", "verify"]

VENDOR = "mailgun"
TOKEN_LENGTH = 50  # Mailgun's tokens: 50 random characters
TYPES = {"delivered": "email.delivered", "opened": "email.opened", "clicked": "email.clicked",
         "failed": "email.bounced", "complained": "email.complained", "unsubscribed": "email.unsubscribed"}


def parse_body(body: bytes) -> dict:
    doc = parse_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), dict) or \
            not isinstance(doc.get("event-data"), dict):
        raise Malformed("expected {signature, event-data}")
    return doc


def verify(signing_key: str, signature: dict, now_s: float, tokens: TokenLedger, max_age_s: float) -> None:
    """HMAC-SHA256 over timestamp + token, the timestamp within the window, the token never seen before.

    Mailgun signs the two concatenated with no separator, so the split must be unambiguous: the timestamp is
    digits only and the token exactly TOKEN_LENGTH characters. Otherwise "1767000000" + "e0abc..." could be
    re-read as the pair ("1767000000e0", "abc...") with the same signature and a token never seen.
    """
    timestamp, token, given = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if not (isinstance(timestamp, str) and isinstance(token, str) and isinstance(given, str) and timestamp and
            token and given):
        raise Unauthorized("signature block incomplete")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthorized("timestamp must be whole epoch seconds")
    if len(token) != TOKEN_LENGTH or not (token.isascii() and token.isalnum()):
        raise Unauthorized(f"token must be {TOKEN_LENGTH} letters and digits")
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthorized("signature does not match")
    check_age(int(timestamp), now_s, max_age_s)
    if not tokens.first_use(token, int(timestamp), now_s):
        raise Replayed("token already used")


def parse_event(data: dict, now_ms: int) -> Mapped:
    mapped = Mapped()
    event_id, kind = text(data.get("id")), data.get("event")
    if not event_id:
        mapped.invalid.append(("event without id", data))
        return mapped
    if kind not in TYPES:
        mapped.ignored.append(f"{VENDOR}.{kind}")
        return mapped
    props = {}
    if kind == "failed":
        props["bounce"] = "hard" if data.get("severity") == "permanent" else "soft"
        status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
        props["reason"] = text(status.get("message")) or text(data.get("reason")) or ""
    client = data.get("client-info") if isinstance(data.get("client-info"), dict) else {}
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    email_event(mapped, vendor=VENDOR, vendor_id=event_id, type_=TYPES[kind], recipient=data.get("recipient"),
                occurred_at=epoch_ms(data.get("timestamp"), now_ms), received_at=now_ms,
                message_id=action_id_in(data.get("user-variables")) or text(headers.get("message-id")), url=text(data.get("url")),
                machine=bool(client.get("bot")), properties=props, raw=data)
    return mapped
