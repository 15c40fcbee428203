"""Segment/RudderStack calls -> Interactions (pure mapping, no I/O).

One mapping for every path that takes Segment-shaped items: the HTTP API
(`/v1/batch`, `/v1/track`, ..., `/v1/events`) and the website tracker. It follows the
Segment spec (which RudderStack shares): `track`, `identify`, `page`, `screen`, `group`
and `alias` calls with `userId` / `anonymousId`, `traits` (or `context.traits`),
`properties`, `context.page|campaign|ip|userAgent`, `messageId`, `timestamp` and `sentAt`.

Identity rules (see ``streams.core.identity``): an email (`traits.email`, `context.traits.email`,
`properties.email` or leadflow's own top-level `email`) names the person; otherwise the
`userId` (key ``user:<id>``); otherwise the `anonymousId` (``anon:<id>``). An `identify`
with an email links its `userId` and `anonymousId` to that person; one without an email
links the `anonymousId` to the `userId`; an `alias` links `previousId` (an anonymous id) to
`userId`. After a link, events naming only the linked id land on the person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors.collector.event_names import EventNames
from streams.core.hygiene import Unclean, checked_all
from connectors.collector.privacy import MAX_USER_AGENT, treat_ip
from connectors.collector.traits import GROUP, flat, profile_from_traits
from schemas.records import Interaction
from schemas.timestamps import DEFAULT_MAX_FUTURE_S, epoch_ms, latest
from streams.core.identity import (MAX_ID, InvalidEmail, anonymous_key, normalize_email, prospect_id_for,
                                   user_key)

SOURCE = "events_api"
CALLS = ("track", "identify", "page", "screen", "group", "alias")
MAX_NAME = 200
UTM = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium", "term": "utm_term",
       "content": "utm_content"}


class ItemError(ValueError):
    """One call is unusable; the message is the reason returned to the caller."""


@dataclass(frozen=True)
class SegmentMapping:
    """The mapping with its configuration: event names -> types, how client IPs are kept, the future skew."""

    event_names: EventNames = field(default_factory=lambda: EventNames({}))
    ip_mode: str = "truncate"
    ip_key: str = ""
    max_future_s: float = DEFAULT_MAX_FUTURE_S

    def interactions(self, item: Any, now_ms: int, call: str | None = None,
                     sent_at: Any = None) -> list[Interaction]:
        """``call``: the type the endpoint implies (`/v1/track`); ``sent_at``: the batch's `sentAt`.
        Every interaction is checked by ``hygiene`` (the reason names the bad field)."""
        try:
            return checked_all(self._interactions(item, now_ms, call, sent_at))
        except Unclean as exc:
            raise ItemError(str(exc)) from None

    def _interactions(self, item: Any, now_ms: int, call: str | None, sent_at: Any) -> list[Interaction]:
        if not isinstance(item, dict):
            raise ItemError("item must be a JSON object")
        kind = call or item.get("type")
        if kind not in CALLS:
            raise ItemError(f"type must be one of {', '.join(CALLS)}")
        properties = _object(item, "properties")
        context = _object(item, "context")
        context_traits = _object(context, "traits")
        traits = {**context_traits, **_object(item, "traits")}
        email = _email(item.get("email") or traits.get("email") or properties.get("email"))
        user_id = _id(item, "userId")
        anonymous_id = _id(item, "anonymousId")
        event_id = _event_id(item)
        occurred_at = _occurred_at(item, now_ms, item.get("sentAt") or sent_at, latest(now_ms, self.max_future_s))
        key = prospect_id_for(email) if email else user_key(user_id) if user_id else \
            anonymous_key(anonymous_id) if anonymous_id else None
        if kind == "alias":
            return self._alias(item, email, user_id, event_id, occurred_at, now_ms)
        if key is None:
            raise ItemError("userId or anonymousId is required (or an email in traits)")
        common = self._common(key, email, anonymous_id, occurred_at, now_ms, properties, context)
        if kind in ("page", "screen"):
            name = _opt_text(item.get("name") or properties.get("name"), "name")
            props = common.pop("properties")
            if kind == "screen" and name:
                props = {**props, "screen": name}
            return [Interaction(event_id=event_id, type="page.viewed", properties=props,
                                **{**common, "title": common["title"] or name})]
        if kind == "track":
            name = item.get("event")
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
                raise ItemError(f"track needs an event name (a string of at most {MAX_NAME} characters)")
            return [Interaction(event_id=event_id, type=self.event_names.type_for(name), event=name, **common)]
        if kind == "group":
            group_id = _id(item, "groupId")
            if group_id is None:
                raise ItemError("group needs a groupId")
            profile = {**profile_from_traits(_object(item, "traits"), GROUP), "group_id": group_id}
            return [Interaction(event_id=event_id, type="profile.updated", traits=profile, **common)]
        profile = profile_from_traits(traits)
        if user_id:
            profile["user_id"] = user_id
        out = [Interaction(event_id=event_id, type="profile.updated", traits=profile, **common)]
        target = key if email else user_key(user_id) if user_id else None
        if email and user_id:
            out.append(_link(common, event_id + "#user", user_key(user_id), target))
        if anonymous_id and target:
            out.append(_link(common, event_id + "#link", anonymous_key(anonymous_id), target))
        return out

    def _common(self, key: str, email: str | None, anonymous_id: str | None, occurred_at: int, now_ms: int,
                properties: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        page = _object(context, "page")
        campaign = _object(context, "campaign")
        utm = {UTM[k]: v for k, v in campaign.items() if k in UTM and v is not None}
        ip = context.get("ip")
        agent = context.get("userAgent")
        return dict(
            prospect_key=key, prospect_id=key if email else None, anonymous_id=anonymous_id, email=email,
            occurred_at=occurred_at, received_at=now_ms, source=SOURCE,
            url=_opt_text(properties.get("url") or page.get("url"), "url"),
            referrer=_opt_text(properties.get("referrer") or page.get("referrer"), "referrer"),
            title=_opt_text(properties.get("title") or page.get("title"), "title"),
            campaign=_opt_text(properties.get("campaign") or campaign.get("name"), "campaign"),
            message_id=_opt_text(properties.get("message_id"), "message_id"),
            form_id=_opt_text(properties.get("form_id"), "form_id"),
            ip=treat_ip(ip, self.ip_mode, self.ip_key) if isinstance(ip, str) else None,
            user_agent=agent[:MAX_USER_AGENT] if isinstance(agent, str) and agent else None,
            properties={**flat(utm), **flat(properties)},
        )

    def _alias(self, item: dict[str, Any], email: str | None, user_id: str | None, event_id: str,
               occurred_at: int, now_ms: int) -> list[Interaction]:
        previous = _id(item, "previousId")
        if previous is None or user_id is None:
            raise ItemError("alias needs previousId and userId")
        pid = prospect_id_for(email) if email else None
        base = dict(email=email, occurred_at=occurred_at, received_at=now_ms, source=SOURCE)
        out = [_link(base, event_id, anonymous_key(previous), pid or user_key(user_id), anonymous_id=previous)]
        if pid:
            out.append(_link(base, event_id + "#user", user_key(user_id), pid))
        return out


def _link(common: dict[str, Any], event_id: str, source_key: str, target_key: str,
          anonymous_id: str | None = None) -> Interaction:
    """``identity.linked`` keyed by the less resolved key; its prospect_id names the key it joins."""
    fields = {k: v for k, v in common.items() if k not in ("prospect_key", "prospect_id", "properties")}
    if anonymous_id is not None:
        fields["anonymous_id"] = anonymous_id
    return Interaction(event_id=event_id, type="identity.linked", prospect_key=source_key, prospect_id=target_key,
                       **fields)


DEFAULT = SegmentMapping()


def interactions_from_item(item: Any, now_ms: int, call: str | None = None) -> list[Interaction]:
    """The mapping with the defaults (no event-name table, truncated IPs): for tests and tools."""
    return DEFAULT.interactions(item, now_ms, call)


def _object(item: dict[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"{name} must be a JSON object")
    return value


def _email(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ItemError("email must be a string")
    try:
        return normalize_email(raw)
    except InvalidEmail as exc:
        raise ItemError(str(exc)) from None


def _id(item: dict[str, Any], name: str) -> str | None:
    """Segment ids are strings, or numbers the libraries stringify; empty means absent."""
    raw = item.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ItemError(f"{name} must be a string or a number")
    value = str(raw)
    if len(value) > MAX_ID:
        raise ItemError(f"{name} must be at most {MAX_ID} characters")
    return value


def _event_id(item: dict[str, Any]) -> str:
    """`messageId` makes the event id, so a client's retry of the same call is de-duplicated."""
    message_id = item.get("messageId")
    if message_id is None:
        return str(uuid.uuid4())
    if not isinstance(message_id, (str, int)) or isinstance(message_id, bool) or not 0 < len(str(message_id)) <= 200:
        raise ItemError("messageId must be a non-empty string of at most 200 characters")
    return f"api:{message_id}"


def _occurred_at(item: dict[str, Any], now_ms: int, sent_at: Any, latest_ms: int) -> int:
    """The event time, corrected for the sender's clock: `timestamp` + (received - `sentAt`).

    Clients stamp `timestamp` and, when they send, `sentAt` with their own clock; the
    difference is how long the event waited in the client, which holds whatever the clock's
    error. With a `sentAt` an event never lands in the future; without one, a `timestamp`
    after ``latest_ms`` (now + LEADFLOW_MAX_FUTURE_SECONDS) is refused.
    """
    raw = item.get("timestamp", item.get("originalTimestamp"))
    try:
        stamped = epoch_ms(raw, now_ms, None if raw is not None and sent_at is not None else latest_ms)
        sent = epoch_ms(sent_at, now_ms) if raw is not None and sent_at is not None else None
    except ValueError as exc:
        raise ItemError(str(exc)) from None
    occurred = stamped + (now_ms - sent) if sent is not None else stamped
    return min(max(occurred, 0), now_ms) if sent is not None else occurred


def _opt_text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise ItemError(f"{name} must be text")
    return str(value)
