"""Shared by the vendor mappings: one email event -> one Interaction; vendor verdicts as exceptions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from streams.core.hygiene import cleaned
from connectors.collector.json_reader import NotJson, read_json
from schemas.records import Interaction
from schemas.timestamps import not_future
from streams.core.identity import InvalidEmail, normalize_email, prospect_id_for


_ACTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACTION_ID_KEY = "action_id"  # what the action delivery names it in each provider's custom data


def action_id_in(custom: Any) -> str | None:
    """The leadflow action id an email was sent with, from the provider's custom data (SendGrid's custom_args,
    Mailgun's user-variables, Postmark's Metadata, SES's mail tags, whose values are lists), when it is one:
    that is the message id an open or click joins the send by (the automation engine's outcome windows).
    Anything else (an email sent by another system) keeps the provider's own message id."""
    value = custom.get(ACTION_ID_KEY) if isinstance(custom, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) and _ACTION_ID.fullmatch(value) else None


class Malformed(ValueError):
    """The payload can never be processed: answer 4xx so the vendor stops retrying."""


class Unauthorized(ValueError):
    """Signature or credentials missing or wrong."""


@dataclass
class Mapped:
    """The outcome of mapping one vendor payload."""

    interactions: list[Interaction] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    invalid: list[tuple[str, Any]] = field(default_factory=list)


def email_event(mapped: Mapped, *, vendor: str, vendor_id: str, type_: str, recipient: Any, occurred_at: int,
                received_at: int, message_id: str | None = None, url: str | None = None, machine: bool = False,
                properties: dict[str, str] | None = None, raw: Any = None) -> None:
    """Append the interaction, or record why this one event is unusable."""
    try:
        email = normalize_email(recipient) if isinstance(recipient, str) else None
    except InvalidEmail:
        email = None
    if email is None:
        mapped.invalid.append((f"{vendor} event {vendor_id}: recipient is not a valid email", raw))
        return
    pid = prospect_id_for(email)
    mapped.interactions.append(Interaction(
        event_id=f"{vendor}:{vendor_id}", prospect_key=pid, prospect_id=pid, email=email, type=type_,
        occurred_at=occurred_at, received_at=received_at, source=f"webhook.{vendor}", message_id=message_id,
        url=url, machine=machine, properties={k: v for k, v in (properties or {}).items() if v},
    ))


def parse_json(body: bytes | str) -> Any:
    """The vendor's JSON through the collector's one reader; Malformed (4xx) for anything it refuses."""
    try:
        return read_json(body)
    except NotJson as exc:
        raise Malformed(str(exc)) from None


def vetted(mapped: Mapped, latest_ms: int) -> Mapped:
    """The one check of every vendor's mapped events: texts cleaned (vendors cannot fix a batch, so control
    characters are removed, never refused), events stamped after ``latest_ms`` moved to ``invalid`` (recorded as
    rejected, the rest of the batch kept)."""
    kept: list[Interaction] = []
    for interaction in mapped.interactions:
        try:
            not_future(interaction.occurred_at, latest_ms)
        except ValueError as exc:
            mapped.invalid.append((f"{interaction.event_id[:200]}: {exc}", {"event_id": interaction.event_id,
                                                                             "occurred_at": interaction.occurred_at}))
            continue
        kept.append(cleaned(interaction))
    mapped.interactions = kept
    return mapped


def iso_ms(value: Any, fallback: int) -> int:
    if not isinstance(value, str):
        return fallback
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError):
        return fallback


def epoch_ms(value: Any, fallback: int) -> int:
    return int(float(value) * 1000) if isinstance(value, (int, float)) and not isinstance(value, bool) else fallback


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
