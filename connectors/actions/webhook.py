"""Webhook actions: an automation's ``webhook: https://...`` POSTed to that URL as a signed JSON webhook.

Why the sink's mechanism: receivers of leadflow's webhooks verify one signature scheme and de-duplicate on one
header, whichever part of leadflow sent them (``leadflow.webhooks``). The body is
``{"schema": "Action", ...the Action's fields}`` (``payload`` carries ``why``, ``stage`` and ``score``), signed
under ``LEADFLOW_WEBHOOK_SECRET``, with ``Idempotency-Key: <action_id>`` (deterministic: a redelivery or a
replay repeats it, so the receiver keeps the first) and ``X-Leadflow-Action: <type>``.

One call is one attempt: 2xx is done; 5xx, 408, 429 (``Retry-After``), timeouts and connection errors raise a
retryable ``AttemptFailed``, any other 4xx a final one (``leadflow.outbound``). The caller's session timeout
(``LEADFLOW_ACTIONS_TIMEOUT``) bounds the call.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp

from leadflow.outbound import AttemptFailed
from leadflow.webhooks import post_signed
from schemas.records import Action

ACTION_HEADER = "X-Leadflow-Action"


def body_of(action: Action) -> bytes:
    """The JSON document a receiver gets (compact, UTF-8): what it verifies the signature over."""
    document = {"schema": Action.SCHEMA, **dataclasses.asdict(action)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


async def send(session: aiohttp.ClientSession, action: Action, secret: str | None,
               clock: Callable[[], float] = time.time, requests: Any = None, seconds: Any = None) -> None:
    """One signed POST of ``action`` to its target URL; raises ``AttemptFailed``. ``requests``/``seconds``: the
    caller's metrics, as ``post_signed`` takes them."""
    if not secret:
        raise AttemptFailed("LEADFLOW_WEBHOOK_SECRET is not set: webhook actions are always signed", retryable=False)
    url = action.target or ""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise AttemptFailed(f"webhook action {action.action_id}: target {url[:200]!r} is not an http(s) URL",
                            retryable=False)
    await post_signed(session, url, body_of(action), secret, action.action_id, clock,
                      headers={ACTION_HEADER: action.type}, requests=requests, seconds=seconds)
