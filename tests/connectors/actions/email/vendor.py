"""A provider's API on 127.0.0.1 for one attempt: it records the request as it arrived and gives the answer the
test scripted, so an adapter is checked against the vendor's documented request and response shapes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiDict

from connectors.actions.email.message import (ACTION_ID_HEADER, LIST_UNSUBSCRIBE, LIST_UNSUBSCRIBE_POST, ONE_CLICK,
                                               Email, Provider, Sent)
from leadflow.outbound import AttemptFailed
from tests.local_server import local_server

ACTION_ID = "0d5e3c56-8f1a-5b2e-9c4d-2a6b7c8d9e0f"
PROSPECT_ID = "p_71d4f55f72fa128dfb468a1a3901507c"
UNSUBSCRIBE = f"https://c.example.com/t/u?p={PROSPECT_ID}&m={ACTION_ID}&s=T61U1HwitB3uVErpiGc3tA"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the wall clock the attempt is made at


def sample_email(**changes: Any) -> Email:
    email = Email(action_id=ACTION_ID, prospect_id=PROSPECT_ID, to="ann@example.com",
                  sender="Example Team <hello@example.com>", reply_to="Sales <sales@example.com>",
                  subject="Welcome to Example, Ann", text="Hi Ann,\nRead the guide: https://c.example.com/t/c?u=x\n",
                  html="<p>Hi Ann, <a href=\"https://c.example.com/t/c?u=x\">guide</a></p>",
                  headers={LIST_UNSUBSCRIBE: f"<{UNSUBSCRIBE}>", LIST_UNSUBSCRIBE_POST: ONE_CLICK,
                           ACTION_ID_HEADER: ACTION_ID},
                  metadata={"action_id": ACTION_ID, "prospect_id": PROSPECT_ID, "source": "welcome program",
                            "step": "1"},
                  transactional=False, cause="form:evt-1")
    return dataclasses.replace(email, **changes)


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes
    form: MultiDict[str] | None  # a multipart or urlencoded body, read as a form


Answer = Callable[[], web.Response]


def exchange(answer: Answer, make: Callable[[str], Provider], email: Email | None = None,
             now: float = NOW) -> tuple[Received, Sent | AttemptFailed]:
    """One attempt of the provider ``make(base_url)`` builds against a server answering ``answer()``: what the
    server received, and the attempt's outcome."""
    return asyncio.run(_exchange(answer, make, email or sample_email(), now))


async def _exchange(answer: Answer, make: Callable[[str], Provider], email: Email,
                    now: float) -> tuple[Received, Sent | AttemptFailed]:
    received: list[Received] = []

    async def handle(request: web.Request) -> web.Response:
        form = None
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = MultiDict((await request.post()).items())
            body = b""
        else:
            body = await request.read()
        received.append(Received(request.method, request.path, request.query_string, CIMultiDict(request.headers),
                                 body, form))
        return answer()

    async with local_server(handle) as base, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        outcome = await _attempt(make(base).send(session, email, now))
    assert len(received) == 1, f"one attempt is one request, got {len(received)}"
    return received[0], outcome


async def _attempt(sending: Awaitable[Sent]) -> Sent | AttemptFailed:
    try:
        return await sending
    except AttemptFailed as failure:
        return failure


def unreachable_outcome(make: Callable[[str], Provider]) -> Sent | AttemptFailed:
    """An attempt against a port nothing listens on (a connection error)."""

    async def main() -> Sent | AttemptFailed:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            return await _attempt(make(f"http://127.0.0.1:{port}").send(session, sample_email(), time.time()))

    return asyncio.run(main())
