"""One email ready to send, what a provider answers, and what every provider adapter is.

Why a message type of our own: rendering, tracking and the unsubscribe headers are done once, the same for
every provider (``compose``), and each adapter only maps this one shape onto its vendor's API. An adapter makes
ONE attempt and raises ``leadflow.outbound.AttemptFailed`` (retryable or final) when it fails; the caller repeats
it with ``leadflow.outbound.with_retries``, so no adapter has a retry loop of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from typing import Mapping, Protocol

import aiohttp

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
ACTION_ID_HEADER = "X-Leadflow-Action-Id"


@dataclass(frozen=True)
class Email:
    """One message ready to send: rendered, links tracked, unsubscribe in place."""

    action_id: str
    prospect_id: str
    to: str
    sender: str
    reply_to: str | None
    subject: str
    text: str
    html: str | None
    headers: Mapping[str, str]  # List-Unsubscribe, List-Unsubscribe-Post, X-Leadflow-Action-Id
    metadata: Mapping[str, str]  # action_id, prospect_id, source, step: provider custom args, so its webhooks join
    transactional: bool
    cause: str | None = None  # the action's cause event id (not sent to providers; the outbox lists it)


@dataclass(frozen=True)
class Sent:
    """The provider took the message; ``message_id`` is its own id for it (what its webhooks name)."""

    provider: str
    message_id: str | None


class Provider(Protocol):
    name: str

    async def send(self, session: aiohttp.ClientSession, email: Email, now: float) -> Sent:
        """ONE attempt to hand ``email`` over; raises ``leadflow.outbound.AttemptFailed``. ``now``: wall-clock
        seconds (Retry-After dates, rate-limit resets, request signatures)."""
        ...


def split_address(address: str) -> tuple[str, str]:
    """``'Example <hello@example.com>'`` -> ``('Example', 'hello@example.com')``; a bare address has no name."""
    name, addr = parseaddr(address)
    return name, addr or address.strip()
