"""Mailgun webhooks: ``{signature: {timestamp, token, signature}, event-data: {...}}``, HMAC-SHA256 signed."""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict

from connectors.collector.webhooks.common import (Malformed, Mapped, Unauthorized, email_event, epoch_ms,
                                                   parse_json, text)

VENDOR = "mailgun"
MAX_AGE_S = 300
TYPES = {"delivered": "email.delivered", "opened": "email.opened", "clicked": "email.clicked",
         "failed": "email.bounced", "complained": "email.complained", "unsubscribed": "email.unsubscribed"}


class Replayed(Unauthorized):
    pass


class TokenCache:
    """Tokens seen within the accepted age; a token seen twice is a replay."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_entries

    def check_and_add(self, token: str, now_s: float) -> bool:
        while self._seen and (next(iter(self._seen.values())) < now_s - 2 * MAX_AGE_S or len(self._seen) > self._max):
            self._seen.popitem(last=False)
        if token in self._seen:
            return False
        self._seen[token] = now_s
        return True


def parse_body(body: bytes) -> dict:
    doc = parse_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), dict) or \
            not isinstance(doc.get("event-data"), dict):
        raise Malformed("expected {signature, event-data}")
    return doc


def verify(signing_key: str, signature: dict, now_s: float, tokens: TokenCache) -> None:
    timestamp, token, given = (str(signature.get(k, "")) for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and given):
        raise Unauthorized("signature block incomplete")
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthorized("signature does not match")
    try:
        age = abs(now_s - float(timestamp))
    except ValueError:
        raise Unauthorized("timestamp is not a number") from None
    if age > MAX_AGE_S:
        raise Replayed(f"timestamp is {age:.0f}s away from now (at most {MAX_AGE_S}s)")
    if not tokens.check_and_add(token, now_s):
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
                message_id=text(headers.get("message-id")), url=text(data.get("url")),
                machine=bool(client.get("bot")), properties=props, raw=data)
    return mapped
