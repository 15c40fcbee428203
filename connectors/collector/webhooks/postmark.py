"""Postmark webhooks: one JSON record per call, identified by RecordType, behind HTTP Basic auth."""

from __future__ import annotations

import hashlib

from connectors.collector.webhooks.common import Malformed, Mapped, action_id_in, email_event, iso_ms, parse_json, text

VENDOR = "postmark"
HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"}
SOFT = {"SoftBounce", "Transient", "DnsError", "ChallengeVerification"}


def parse(body: bytes, now_ms: int) -> Mapped:
    record = parse_json(body)
    if not isinstance(record, dict) or not isinstance(record.get("RecordType"), str):
        raise Malformed("expected a JSON object with RecordType")
    mapped = Mapped()
    kind = record["RecordType"]
    message_id = action_id_in(record.get("Metadata")) or text(record.get("MessageID"))
    if kind == "Bounce" or kind == "SpamComplaint":
        bounce_type = record.get("Type")
        if kind == "SpamComplaint" or bounce_type == "SpamComplaint":
            type_, props = "email.complained", {}
        elif bounce_type in HARD or bounce_type in SOFT:
            type_ = "email.bounced"
            props = {"bounce": "hard" if bounce_type in HARD else "soft", "reason": text(record.get("Description")) or ""}
        else:
            mapped.ignored.append(f"{VENDOR}.{kind}.{bounce_type}")
            return mapped
        event_id = f"{kind.lower()}:{record.get('ID')}" if record.get("ID") is not None else None
        recipient, at = record.get("Email"), record.get("BouncedAt")
    elif kind in ("Delivery", "Open", "Click", "SubscriptionChange"):
        if kind == "SubscriptionChange" and record.get("SuppressSending") is not True:
            mapped.ignored.append(f"{VENDOR}.{kind}.resubscribed")
            return mapped
        type_ = {"Delivery": "email.delivered", "Open": "email.opened", "Click": "email.clicked",
                 "SubscriptionChange": "email.unsubscribed"}[kind]
        at = record.get({"Delivery": "DeliveredAt", "SubscriptionChange": "ChangedAt"}.get(kind, "ReceivedAt"))
        recipient = record.get("Recipient")
        props = {"first_open": str(record["FirstOpen"]).lower()} if kind == "Open" and "FirstOpen" in record else {}
        link = text(record.get("OriginalLink")) or ""
        # Postmark has no per-event id for these: message + type + time (+ link) is stable across retries.
        event_id = (f"{kind.lower()}:{message_id}:{at}:{hashlib.sha256(link.encode()).hexdigest()[:12]}"
                    if message_id and at else None)
    else:
        mapped.ignored.append(f"{VENDOR}.{kind}")
        return mapped
    if event_id is None:
        mapped.invalid.append((f"{kind} record without an id or time", record))
        return mapped
    email_event(mapped, vendor=VENDOR, vendor_id=event_id, type_=type_, recipient=recipient,
                occurred_at=iso_ms(at, now_ms), received_at=now_ms, message_id=message_id,
                url=text(record.get("OriginalLink")), properties=props, raw=record)
    return mapped
