"""Segment-style `track` / `identify` / `page` items -> Interactions (pure mapping, no I/O)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from schemas.records import Interaction
from schemas.timestamps import epoch_ms
from streams.core.identity import InvalidEmail, anonymous_key, normalize_email, prospect_id_for
from streams.core.model import INTERACTION_TYPES

SOURCE = "events_api"
MAX_ANON_ID = 200


class ItemError(ValueError):
    """One batch item is unusable; the message is the reason returned to the caller."""


def interactions_from_item(item: Any, now_ms: int) -> list[Interaction]:
    if not isinstance(item, dict):
        raise ItemError("item must be a JSON object")
    kind = item.get("type")
    if kind not in ("track", "identify", "page"):
        raise ItemError("type must be track, identify or page")
    properties = _object(item, "properties")
    traits = _object(item, "traits")
    context = _object(item, "context")
    email = _email(item, traits, properties)
    anonymous_id = _anonymous_id(item)
    if email is None and anonymous_id is None:
        raise ItemError("email (or traits.email) or anonymousId is required")
    prospect_id = prospect_id_for(email) if email else None
    key = prospect_id or anonymous_key(anonymous_id)  # type: ignore[arg-type]
    message_id = item.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or not 0 < len(message_id) <= 200):
        raise ItemError("messageId must be a non-empty string of at most 200 characters")
    event_id = f"api:{message_id}" if message_id else str(uuid.uuid4())
    occurred_at = _timestamp(item.get("timestamp"), now_ms)
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    campaign_ctx = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
    common = dict(
        prospect_key=key, prospect_id=prospect_id, anonymous_id=anonymous_id, email=email,
        occurred_at=occurred_at, received_at=now_ms, source=SOURCE,
        url=_str(properties.get("url") or page.get("url")),
        referrer=_str(properties.get("referrer") or page.get("referrer")),
        title=_str(properties.get("title") or page.get("title")),
        campaign=_str(properties.get("campaign") or campaign_ctx.get("name")),
        message_id=_str(properties.get("message_id")),
        form_id=_str(properties.get("form_id")),
        properties=_flat(properties),
    )
    if kind == "page":
        return [Interaction(event_id=event_id, type="page.viewed", **common)]
    if kind == "track":
        event = item.get("event")
        if event not in INTERACTION_TYPES or event in ("identity.linked", "profile.updated"):
            raise ItemError(f"track event must be one of {', '.join(sorted(_TRACKABLE))}")
        return [Interaction(event_id=event_id, type=event, **common)]
    if email is None:
        raise ItemError("identify needs an email (or traits.email)")
    profile = _flat({k: v for k, v in traits.items() if k != "email"})
    out = [Interaction(event_id=event_id, type="profile.updated", traits=profile, **common)]
    if anonymous_id is not None:
        linked = {**common, "prospect_key": anonymous_key(anonymous_id)}
        out.append(Interaction(event_id=event_id + "#link", type="identity.linked", **linked))
    return out


_TRACKABLE = INTERACTION_TYPES - {"identity.linked", "profile.updated"}


def _object(item: dict[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"{name} must be a JSON object")
    return value


def _email(item: dict[str, Any], traits: dict[str, Any], properties: dict[str, Any]) -> str | None:
    raw = item.get("email") or traits.get("email") or properties.get("email")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ItemError("email must be a string")
    try:
        return normalize_email(raw)
    except InvalidEmail as exc:
        raise ItemError(str(exc)) from None


def _anonymous_id(item: dict[str, Any]) -> str | None:
    raw = item.get("anonymousId")
    if raw is None:
        return None
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_ANON_ID:
        raise ItemError(f"anonymousId must be a non-empty string of at most {MAX_ANON_ID} characters")
    return raw


def _timestamp(raw: Any, now_ms: int) -> int:
    if raw is not None and not isinstance(raw, str):
        raise ItemError("timestamp must be an ISO 8601 string")
    try:
        return epoch_ms(raw, now_ms)
    except ValueError as exc:
        raise ItemError(str(exc)) from None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _flat(values: dict[str, Any]) -> dict[str, str]:
    """Avro maps hold strings: scalars as text, nested values as JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:
            out[key] = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return out
