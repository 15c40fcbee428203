"""An ``Action`` of type ``send_email`` made into the ``Email`` a provider sends: the template rendered with the
prospect's merge fields, tracking and one-click unsubscribe added, sender and metadata filled in.

Pure apart from reading the template files; the same action gives the same message (up to the click links'
expiry, which counts from ``now_s``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from connectors.actions.email.message import Email
from connectors.actions.email.render import Templates, merge_fields
from connectors.actions.email.tracking import Links, track
from leadflow.config import DEFAULT_AUTOMATIONS, Config, ConfigError
from leadflow.outbound import AttemptFailed
from schemas.records import Action

SEND_EMAIL = "send_email"
_PLAIN_ADDRESS = re.compile(r"[^\s<>\"(),;:\\\[\]@]+@[^\s<>\"(),;:\\\[\]@]+")


@dataclass(frozen=True)
class Sending:
    """What every email of this process shares: who sends it and how its links are signed."""

    sender: str
    reply_to: str | None
    base_url: str  # the collector as recipients reach it (LEADFLOW_PUBLIC_URL)
    link_secret: str
    link_ttl_days: int = 365

    @classmethod
    def from_config(cls, config: Config) -> "Sending":
        if not config.secrets.link_secret:
            raise ConfigError("LEADFLOW_LINK_SECRET", "required to sign the tracking and unsubscribe links of emails "
                                                      "(the collector that answers them needs the same one)")
        return cls(sender=config.actions.email_from, reply_to=config.actions.email_reply_to,
                   base_url=config.public_url, link_secret=config.secrets.link_secret,
                   link_ttl_days=config.collector.link_ttl_days)


def templates_for(config: Config) -> Templates:
    """The ``templates/`` directory next to the automation file (the shipped file's when none is set), which is
    where the worker checked every ``send_email`` template exists."""
    return Templates((config.automations_path or DEFAULT_AUTOMATIONS).parent / "templates")


def compose(action: Action, templates: Templates, sending: Sending, now_s: float | None = None) -> Email:
    """The message of a ``send_email`` action; raises ``AttemptFailed`` (final: ``TemplateFailed`` for the template,
    or an action that cannot be an email) with the cause to dead-letter it with."""
    if action.type != SEND_EMAIL:
        raise AttemptFailed(f"action {action.action_id} is {action.type!r}, not {SEND_EMAIL!r}", retryable=False)
    if not action.target:
        raise AttemptFailed(f"send_email action {action.action_id} names no template", retryable=False)
    to = (action.email or "").strip()
    if not _PLAIN_ADDRESS.fullmatch(to):
        raise AttemptFailed(f"send_email action {action.action_id} has no plain email address to send to",
                            retryable=False)
    links = Links(sending.base_url, sending.link_secret, to, action.action_id, sending.link_ttl_days,
                  time.time() if now_s is None else now_s)
    fields = merge_fields(action.payload, email=to, prospect_id=action.prospect_id,
                          unsubscribe_url=links.unsubscribe)
    rendered = templates.render(action.target, fields)
    tracked = track(rendered, links)
    metadata = {"action_id": action.action_id, "prospect_id": action.prospect_id, "source": action.source}
    if action.step:
        metadata["step"] = action.step
    return Email(action_id=action.action_id, prospect_id=action.prospect_id, to=to, sender=sending.sender,
                 reply_to=sending.reply_to, subject=rendered.subject, text=tracked.text, html=tracked.html,
                 headers=tracked.headers, metadata=metadata,
                 transactional=action.payload.get("transactional") == "true", cause=action.cause_event_id)
