"""Sales notifications in chat: a ``notify`` action posted to an incoming webhook, Slack-style or Teams.

Why incoming webhooks: they need no bot, no OAuth and no scopes, one URL per channel, and Slack, Mattermost,
Rocket.Chat and Teams (through a Workflows webhook) all take one. Where a notification goes
(``route``): a ``channel:#name`` or ``queue:<name>`` target with an entry in ``LEADFLOW_CHAT_WEBHOOKS``
(``#sales=https://...,inbound-sdr=https://...``; channels are written with their ``#``) goes there, anything
else (``owner``, a channel or queue without an entry) to ``LEADFLOW_CHAT_WEBHOOK_URL``. ``person:<email>`` is
never routed here (a person is emailed), and with no webhook configured ``route`` answers None so the caller
writes the notification elsewhere instead. The caller routes once and hands the route to ``send``: every attempt
of one notification goes where it was routed.

Formats (``LEADFLOW_CHAT_FORMAT``):

- ``slack``: ``{"text": <fallback: who, what happened, why>, "blocks": [section, section fields, context]}``;
  Slack's incoming webhooks (https://api.slack.com/messaging/webhooks), Mattermost and Rocket.Chat take it.
  Slack treats ``&``, ``<`` and ``>`` as control characters (``<!channel>``, ``<@U123>``, ``<url|text>``) and
  asks that text not meant that way be escaped as ``&amp;``, ``&lt;``, ``&gt;``
  (https://api.slack.com/reference/surfaces/formatting#escaping), and text objects are ``verbatim`` so plain
  text is not turned into mentions or channel links either
  (https://docs.slack.dev/reference/block-kit/composition-objects/text-object): a prospect named
  ``<!channel>`` pings nobody. Text objects hold at most 3000 characters, section fields 2000.
- ``teams``: a message with one Adaptive Card (version 1.4, TextBlocks), the payload a Teams Workflows
  ("When a Teams webhook request is received") webhook posts to a channel
  (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using,
  "Send Adaptive Cards using an incoming webhook"). TextBlocks read a Markdown subset
  (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format); brackets in
  the text are escaped so a name cannot become a disguised link. Mentions need card entities, which are
  never sent.

Answers (``leadflow.outbound``'s one classification): 2xx is done (Slack 200 ``ok``, a Teams workflow 202);
Slack's 400 ``invalid_payload``, 403 ``action_prohibited``, 404 ``channel_not_found``/``no_service`` and 410
``channel_is_archived`` are final (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks);
429 (with ``Retry-After``, https://api.slack.com/docs/rate-limits), 5xx, timeouts and connection errors are
worth another attempt. Legacy Teams connectors answered a throttled request with a 2xx whose body says
"HTTP error 429"; that counts as a 429. One call is one attempt: ``leadflow.outbound.with_retries`` repeats it.
Webhook URLs are credentials, so errors name only their scheme and host.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp

from leadflow.config import ActionSettings
from leadflow.outbound import TRANSPORT_ERRORS, AttemptFailed, check, unreachable
from schemas.records import Action

SLACK, TEAMS = "slack", "teams"
SLACK_TEXT_MAX, SLACK_FIELD_MAX = 3000, 2000
TEAMS_TEXT_MAX = 4000  # per TextBlock: the whole card stays well under the 28 KB a Teams message may carry
DEFAULT_ROUTE = "LEADFLOW_CHAT_WEBHOOK_URL"
_HALF_ENTITY = re.compile(r"&[a-z]{0,3}$")  # a truncation that cut "&amp;" short
_TEAMS_THROTTLED = "HTTP error 429"


class ChatConfigError(ValueError):
    """``LEADFLOW_CHAT_WEBHOOKS`` has an entry that is not ``name=http(s)://...``."""


@dataclass(frozen=True)
class Notification:
    """What a chat message says: the ``notify`` action's rendered message, who it is about and why, and where
    it came from. Built from an ``Action`` (``of``), or by the caller for SLA escalations."""

    id: str  # the action id (or the SLA event id): shown, so a message can be traced to its record
    target: str  # owner | queue:<name> | person:<email> | channel:#<name>
    message: str
    who: str
    why: str
    source: str = ""  # e.g. "automation hot-lead", "sla default"

    @classmethod
    def of(cls, action: Action) -> Notification:
        payload = action.payload
        return cls(action.action_id, action.target or "owner", payload.get("message", ""), payload.get("who", ""),
                   payload.get("why", ""), f"{action.source_kind} {action.source}".strip())


@dataclass(frozen=True)
class ChatRoute:
    """Where a notification is posted: ``via`` names the setting that chose it (safe to log), ``url`` is the
    webhook itself (a credential: kept out of ``repr``)."""

    via: str
    url: str = field(repr=False)


def parse_chat_webhooks(entries: tuple[str, ...]) -> dict[str, str]:
    """``("#sales=https://...", "inbound-sdr=https://...")`` -> ``{"#sales": url, "inbound-sdr": url}``.
    Raises ``ChatConfigError`` naming the bad entry (by its name only: the URL is a credential)."""
    return dict(_parsed(tuple(entries)))


@lru_cache(maxsize=16)
def _parsed(entries: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for entry in entries:
        name, sep, url = entry.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not name:
            raise ChatConfigError(f"LEADFLOW_CHAT_WEBHOOKS: an entry is not name=https://... "
                                  f"(got one starting {entry[:12]!r})")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ChatConfigError(f"LEADFLOW_CHAT_WEBHOOKS: the webhook of {name!r} is not an http(s) URL")
        out.append((name, url))
    return tuple(out)


def route(target: str | None, settings: ActionSettings) -> ChatRoute | None:
    """The webhook a notification for ``target`` goes to, or None: a person (emailed instead), or no webhook
    configured for it (the caller writes it elsewhere: a notification row in crm_tasks)."""
    kind, _, name = (target or "owner").partition(":")
    if kind == "person":
        return None
    hooks = parse_chat_webhooks(settings.chat_webhooks)
    key = "#" + name.lstrip("#") if kind == "channel" else name if kind == "queue" else None
    if key and key in hooks:
        return ChatRoute(key if kind == "channel" else f"queue {key}", hooks[key])
    if settings.chat_webhook_url:
        return ChatRoute(DEFAULT_ROUTE, settings.chat_webhook_url)
    return None


async def send(session: aiohttp.ClientSession, settings: ActionSettings, where: ChatRoute,
               notification: Notification, clock: Callable[[], float] = time.time) -> None:
    """One attempt to post ``notification`` to ``where`` (what ``route`` chose for it), in
    ``LEADFLOW_CHAT_FORMAT``. Raises ``AttemptFailed``."""
    body = payload(notification, settings.chat_format)
    await post(session, where.url, body, clock, settings.actions_timeout_s)


def payload(notification: Notification, chat_format: str) -> dict[str, Any]:
    if chat_format == TEAMS:
        return teams_payload(notification)
    if chat_format == SLACK:
        return slack_payload(notification)
    raise ValueError(f"LEADFLOW_CHAT_FORMAT must be {SLACK} or {TEAMS}, got {chat_format!r}")


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
               clock: Callable[[], float] = time.time, timeout_s: float | None = None) -> None:
    """One POST of ``body`` as JSON; raises ``AttemptFailed`` unless the answer is a 2xx that is not a
    throttling notice."""
    shown = redacted(url)
    timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
    try:
        async with session.post(url, data=json.dumps(body).encode(), timeout=timeout,
                                headers={"Content-Type": "application/json"}) as response:
            await check(response, shown, clock())
            if _TEAMS_THROTTLED in await response.text(errors="replace"):
                raise AttemptFailed(f"HTTP 429 from {shown} (in a {response.status} answer)", retryable=True,
                                    status=429)
    except TRANSPORT_ERRORS as exc:
        raise unreachable(exc, shown) from None


def redacted(url: str) -> str:
    """``https://hooks.slack.com/…``: a webhook's path and query are its secret."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}/…"
    except ValueError:
        return "<chat webhook>"


# --- Slack (and Mattermost, Rocket.Chat) -------------------------------------------------------------

def slack_escape(text: str) -> str:
    """Slack's three control characters as entities, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_text(text: str, limit: int) -> str:
    """Escaped, at most ``limit`` characters, never empty (Slack refuses empty text objects)."""
    escaped = slack_escape(text.strip()) or "-"
    if len(escaped) <= limit:
        return escaped
    return _HALF_ENTITY.sub("", escaped[:limit - 1]) + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def slack_payload(n: Notification) -> dict[str, Any]:
    """Text for notifications and clients without blocks; blocks for the message, who, why and the action."""
    fallback = f"{n.who}: {n.message} (why: {n.why})" if n.who else f"{n.message} (why: {n.why})"
    context = f"leadflow · {n.source} · action {n.id}" if n.source else f"leadflow · action {n.id}"
    return {
        "text": _slack_text(fallback, SLACK_TEXT_MAX),
        "blocks": [
            {"type": "section", "text": _mrkdwn(_slack_text(n.message, SLACK_TEXT_MAX))},
            {"type": "section", "fields": [
                _mrkdwn("*Who*\n" + _slack_text(n.who, SLACK_FIELD_MAX - 8)),
                _mrkdwn("*Why*\n" + _slack_text(n.why, SLACK_FIELD_MAX - 8)),
            ]},
            {"type": "context", "elements": [_mrkdwn(_slack_text(context, SLACK_TEXT_MAX))]},
        ],
    }


# --- Teams (a Workflows webhook) ---------------------------------------------------------------------

def teams_escape(text: str) -> str:
    """Brackets backslash-escaped (CommonMark): ``[click](https://...)`` in a name stays text, not a link."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _teams_text(text: str) -> str:
    text = text.strip() or "-"
    if len(text) > TEAMS_TEXT_MAX:
        text = text[:TEAMS_TEXT_MAX - 1] + "…"
    return teams_escape(text)


def teams_payload(n: Notification) -> dict[str, Any]:
    context = f"leadflow · {n.source} · action {n.id}" if n.source else f"leadflow · action {n.id}"
    body = [
        {"type": "TextBlock", "text": _teams_text(n.message), "wrap": True, "weight": "Bolder"},
        {"type": "TextBlock", "text": "**Who:** " + _teams_text(n.who), "wrap": True},
        {"type": "TextBlock", "text": "**Why:** " + _teams_text(n.why), "wrap": True},
        {"type": "TextBlock", "text": _teams_text(context), "wrap": True, "isSubtle": True, "size": "Small"},
    ]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.4", "body": body},
    }]}
