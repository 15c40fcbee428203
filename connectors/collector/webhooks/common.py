"""Shared by the vendor mappings: one email event -> one Interaction; vendor verdicts as exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from schemas.records import Interaction
from streams.core.identity import InvalidEmail, normalize_email, prospect_id_for


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


def iso_ms(value: Any, fallback: int) -> int:
    if not isinstance(value, str):
        return fallback
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def epoch_ms(value: Any, fallback: int) -> int:
    return int(float(value) * 1000) if isinstance(value, (int, float)) and not isinstance(value, bool) else fallback


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
