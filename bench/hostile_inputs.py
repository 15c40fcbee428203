"""Hostile inputs for bench/hostile.py: what the internet sends a collector, generated from a seed.

Deep nesting, huge numbers, NUL and other control characters, ANSI escapes, lone surrogates,
invalid UTF-8, wrong types, strings at and past the limits, far-future and far-past times,
weird and malformed encodings (gzip that is not gzip, truncated gzip, a small bomb), and
each endpoint's own fields, with and without valid authentication.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import random
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

STRINGS = ["", "a\x00", "\x00", "\x1b[2J\x1b]0;pwned\x07", "x\x9b31m", "\ud800", "\udfff", "line\nbreak", "tab\t",
           "\r\n", "\u202egnp.exe", "שלום", "🚀" * 50, "'; DROP TABLE crm_leads;--", "%s%s%n", "\\", '"', "<script>",
           "a@b.io", "victim@corp.com\n", "victim\x00@corp.com", "<a>@b.io", "a b@c.io", "9999-12-31T23:59:59Z",
           "0001-01-01T00:00:00+14:00", "2026-13-45", "NaN", "abc\n", "ø" * 2001, "x" * 8193, "y" * 100_001]
NUMBERS = [0, -1, 2**63, -(2**63) - 1, 10**29, 1.5, -0.0, 1e308, 253402300799000, 10**14]


@dataclass
class Case:
    """One request: what the benchmark sends and how it describes it."""

    method: str
    path: str
    label: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Secrets:
    write_key: str
    crm_token: str
    mailgun_key: str
    postmark_auth: str
    topic_arn: str
    sendgrid_sign: Callable[[bytes], str]  # timestamp + body -> base64 signature
    sns_sign: Callable[[dict[str, Any]], dict[str, Any]]  # envelope -> signed envelope


def q(text: str) -> str:
    """Percent-encoded as UTF-8, lone surrogates included (they become invalid UTF-8 on the wire)."""
    return quote(text, safe="", errors="surrogatepass")


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(STRINGS)
    if roll < 0.5:
        return rng.choice(NUMBERS)
    if roll < 0.55:
        return rng.choice([None, True, False])
    if roll < 0.65:
        return "".join(chr(rng.randrange(0, 0x110000)) for _ in range(rng.randrange(1, 12)))
    if depth < 3 and roll < 0.85:
        return {rng.choice(STRINGS + ["email", "type", "k"]): value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if depth < 3:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return rng.choice(STRINGS)


def raw_json(rng: random.Random, doc: Any) -> bytes:
    """The document as JSON, or one of the ways JSON goes wrong."""
    roll = rng.random()
    if roll < 0.06:
        return b"[" * rng.choice([33, 1000, 100_000])
    if roll < 0.1:
        return b'{"n": ' + b"9" * rng.choice([31, 5000, 50_000]) + b"}"
    if roll < 0.13:
        return rng.choice([b"[1e999]", b"NaN", b"[-Infinity]", b'{"a": 1', b"", b"\xff\xfe\x00", b"\xc3\x28"])
    if roll < 0.16:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")  # lone surrogates as bytes
    if roll < 0.18:
        nested: Any = doc
        for _ in range(rng.choice([31, 33, 200])):
            nested = {"context": nested}
        return json.dumps(nested).encode()
    return json.dumps(doc).encode()


def encoded(rng: random.Random, body: bytes, headers: dict[str, str]) -> bytes:
    """Sometimes compressed, sometimes claiming an encoding it does not have."""
    roll = rng.random()
    if roll < 0.05:
        headers["Content-Encoding"] = "gzip"
        return gzip.compress(body)
    if roll < 0.07:
        headers["Content-Encoding"] = rng.choice(["gzip", "deflate"])
        return rng.choice([body, gzip.compress(body)[:-8], b"\x1f\x8b\x08\x00garbage"])
    if roll < 0.08:
        headers["Content-Encoding"] = "deflate"
        return zlib.compress(b"[" + b" " * 2_000_000 + b"]", 9)  # inflates past every cap
    if roll < 0.09:
        headers["Content-Encoding"] = rng.choice(["br", "x-unknown", "gzip, gzip"])
    return body


def segment_item(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {"type": rng.choice(["track", "identify", "page", "screen", "group", "alias", "x", 5]),
                            "userId": rng.choice(["u1", *STRINGS, 7, None]), "anonymousId": rng.choice(["a1", *STRINGS]),
                            "event": rng.choice(["Demo Requested", *STRINGS]), "messageId": rng.choice(["m1", *STRINGS])}
    for name in rng.sample(["properties", "traits", "context", "timestamp", "sentAt", "email", "groupId", "previousId",
                            "name", "originalTimestamp"], rng.randrange(4)):
        item[name] = value(rng)
    if rng.random() < 0.3:
        item["traits"] = {rng.choice(["email", "company", "firstName", "k\x00", "title"]): value(rng)}
    if rng.random() < 0.2:
        item["timestamp"] = rng.choice(["9999-12-31T23:59:59Z", "2015-01-01T00:00:00Z", 10**13, -5, "x"])
    return item


def pixel(rng: random.Random, secrets: Secrets) -> Case:
    names = ["e", "u", "r", "t", "c", "m", "p", "s", "utm_source", "consent", rng.choice(STRINGS)]
    query = "&".join(f"{q(str(rng.choice(names)))}={q(str(value(rng))[:3000])}"
                     for _ in range(rng.randrange(6)))
    return Case("GET", "/t/px.gif?" + query, "pixel", {"Referer": "https://a.io/\u0085x"} if rng.random() < 0.1 else {})


def click(rng: random.Random, secrets: Secrets) -> Case:
    query = "&".join(f"{k}={q(str(value(rng))[:3000])}" for k in rng.sample("upmxs", rng.randrange(6)))
    return Case("GET", "/t/c?" + query, "click")


def tracker(rng: random.Random, secrets: Secrets) -> Case:
    headers = {"Content-Type": rng.choice(["text/plain", "application/json", "image/png"])}
    doc = rng.choice([segment_item(rng), [segment_item(rng) for _ in range(rng.randrange(25))],
                      {"batch": [segment_item(rng)]}, value(rng)])
    return Case("POST", "/t/e", "tracker", headers, encoded(rng, raw_json(rng, doc), headers))


def form(rng: random.Random, secrets: Secrets) -> Case:
    form_id = rng.choice(["demo", "demo%0A", "x" * 101, "%00", "..", "a%2Fb"])
    fields = {rng.choice(["email", "company", "first_name", "_aid", "_ts", "_hp", "note", "k\x00", "x" * 101]):
              value(rng) for _ in range(rng.randrange(1, 6))}
    fields.setdefault("email", rng.choice(["ann@example.com", *STRINGS]))
    headers = {"Accept": rng.choice(["text/html", "application/json", "*/*"])}
    if rng.random() < 0.5:
        headers["Content-Type"] = "application/json"
        body = raw_json(rng, fields if rng.random() < 0.9 else value(rng))
    else:
        headers["Content-Type"] = rng.choice(["application/x-www-form-urlencoded", "multipart/form-data", "text/xml"])
        body = "&".join(f"{q(str(k))}={q(str(v)[:3000])}" for k, v in fields.items()).encode()
        body = body if rng.random() < 0.9 else b"email=%ff%fe&_aid=abc%0A"
    return Case("POST", f"/v1/forms/{form_id}", "form", headers, encoded(rng, body, headers))


def events_api(rng: random.Random, secrets: Secrets) -> Case:
    path = rng.choice(["/v1/batch", "/v1/events", "/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group",
                       "/v1/alias"])
    headers = {"Content-Type": "application/json"}
    auth = rng.random()
    if auth < 0.8:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{secrets.write_key}:".encode()).decode()
    elif auth < 0.9:
        headers["Authorization"] = rng.choice(["Basic !!!", "Bearer x", "Basic " + base64.b64encode(b"\xff:").decode()])
    many = [segment_item(rng) for _ in range(rng.choice([1, 3, 50]))]
    doc = rng.choice([{"batch": many, "sentAt": value(rng), "context": value(rng)}, many[0], many, value(rng)])
    return Case("POST", path, "events_api" + ("" if auth < 0.8 else " (no auth)"), headers,
                encoded(rng, raw_json(rng, doc), headers))


def crm_feedback(rng: random.Random, secrets: Secrets) -> Case:
    verdict = {k: value(rng) for k in rng.sample(["id", "prospect_id", "email", "verdict", "occurred_at", "deal_value",
                                                  "reason", "owner", "x"], rng.randrange(6))}
    verdict.setdefault("verdict", rng.choice(["won", "lost", "maybe"]))
    verdict.setdefault("email", rng.choice(["ann@example.com", *STRINGS]))
    authed = rng.random() < 0.8
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {secrets.crm_token}"} if authed else {})}
    doc = rng.choice([verdict, [verdict] * rng.randrange(1, 5), value(rng)])
    return Case("POST", "/v1/crm/feedback", "crm_feedback" + ("" if authed else " (no auth)"), headers,
                encoded(rng, raw_json(rng, doc), headers))


def vendor_event(rng: random.Random, names: list[str]) -> dict[str, Any]:
    event = {name: value(rng) for name in rng.sample(names, rng.randrange(len(names)))}
    event.update({k: v for k, v in [("email", rng.choice(["ann@example.com", *STRINGS])),
                                    ("timestamp", rng.choice([1767000000, 253402300799, 1e300, -1e300, "x", None]))]})
    return event


def sendgrid(rng: random.Random, secrets: Secrets) -> Case:
    events = [{**vendor_event(rng, ["event", "sg_event_id", "url", "reason", "type", "sg_message_id"]),
               "event": rng.choice(["open", "bounce", "click", "x"]), "sg_event_id": rng.choice(["sg1", *STRINGS])}
              for _ in range(rng.randrange(1, 5))]
    body = raw_json(rng, events if rng.random() < 0.9 else value(rng))
    headers = {"Content-Type": "application/json"}
    signed = rng.random() < 0.7
    if signed:
        stamp = str(rng.choice([1767000000, 0]))
        headers.update({"X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                        "X-Twilio-Email-Event-Webhook-Signature": secrets.sendgrid_sign(stamp.encode() + body)})
    return Case("POST", "/v1/webhooks/sendgrid", "sendgrid" + ("" if signed else " (unsigned)"), headers, body)


def mailgun(rng: random.Random, secrets: Secrets) -> Case:
    data = {**vendor_event(rng, ["id", "event", "severity", "reason", "url", "client-info", "message"]),
            "id": rng.choice(["mg1", *STRINGS]), "event": rng.choice(["failed", "opened", "clicked", "x"]),
            "recipient": rng.choice(["ann@example.com", *STRINGS])}
    timestamp, token = "1767000000", hashlib.sha256(str(rng.random()).encode()).hexdigest()
    signed = rng.random() < 0.7
    signature = hmac.new(secrets.mailgun_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest() \
        if signed else rng.choice(STRINGS)
    doc = {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": data}
    return Case("POST", "/v1/webhooks/mailgun", "mailgun" + ("" if signed else " (unsigned)"),
                {"Content-Type": "application/json"}, raw_json(rng, doc if rng.random() < 0.9 else value(rng)))


def postmark(rng: random.Random, secrets: Secrets) -> Case:
    record = {**vendor_event(rng, ["ID", "Type", "MessageID", "Description", "OriginalLink", "FirstOpen"]),
              "RecordType": rng.choice(["Bounce", "Open", "Click", "Delivery", "x", 5]),
              "Recipient": rng.choice(["ann@example.com", *STRINGS]), "Email": rng.choice(["ann@example.com", *STRINGS]),
              "MessageID": rng.choice(["m1", *STRINGS]), "ID": rng.choice([1, *STRINGS]),
              "ReceivedAt": rng.choice(["2025-12-01T00:00:00Z", *STRINGS]), "Type": rng.choice(["HardBounce", "x"])}
    authed = rng.random() < 0.7
    headers = {"Content-Type": "application/json"}
    if authed:
        headers["Authorization"] = "Basic " + base64.b64encode(secrets.postmark_auth.encode()).decode()
    return Case("POST", "/v1/webhooks/postmark", "postmark" + ("" if authed else " (no auth)"), headers,
                encoded(rng, raw_json(rng, record if rng.random() < 0.9 else value(rng)), headers))


def ses(rng: random.Random, secrets: Secrets) -> Case:
    kind = rng.choice(["Bounce", "Complaint", "Delivery", "Open", "Click", "x"])
    detail = {"timestamp": rng.choice(["2025-12-01T00:00:00Z", "9999-12-31T23:59:59Z", *STRINGS]),
              "bounceType": "Permanent", "feedbackId": rng.choice(["f1", *STRINGS]),
              "bouncedRecipients": [{"emailAddress": rng.choice(["ann@example.com", *STRINGS])}],
              "complainedRecipients": [{"emailAddress": rng.choice(STRINGS)}], "recipients": [rng.choice(STRINGS)],
              "link": rng.choice(STRINGS)}
    message = {"eventType": kind, "mail": {"messageId": rng.choice(["m1", *STRINGS]),
                                            "destination": [rng.choice(["ann@example.com", *STRINGS])]},
               kind.lower(): detail}
    raw = raw_json(rng, message).decode("utf-8", "replace") if rng.random() < 0.9 else value(rng)
    envelope = {"Type": "Notification", "MessageId": "m", "TopicArn": secrets.topic_arn, "Message": raw,
                "Timestamp": "2025-12-01T00:00:00Z", "SignatureVersion": rng.choice(["1", "2"]),
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem"}
    signed = rng.random() < 0.7 and isinstance(raw, str) and not any("\ud800" <= c <= "\udfff" for c in raw)
    envelope = secrets.sns_sign(envelope) if signed else {**envelope, "Signature": rng.choice(STRINGS)}
    return Case("POST", "/v1/webhooks/ses", "ses" + ("" if signed else " (unsigned)"),
                {"Content-Type": "text/plain"}, raw_json(rng, envelope if rng.random() < 0.95 else value(rng)))


ENDPOINTS: list[Callable[[random.Random, Secrets], Case]] = [
    pixel, click, tracker, form, events_api, crm_feedback, sendgrid, mailgun, postmark, ses]


def cases(seed: int, count: int, secrets: Secrets):
    """``count`` cases, round-robin over every endpoint, reproducible from ``seed``."""
    rng = random.Random(seed)
    for index in range(count):
        yield ENDPOINTS[index % len(ENDPOINTS)](rng, secrets)
