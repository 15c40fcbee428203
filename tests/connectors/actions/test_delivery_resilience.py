"""The `leadflow actions` process killed mid-batch (SIGKILL): nothing lost, and nothing done twice for a target
that honours idempotency keys (a webhook receiver); emails, whose APIs take no key, at most repeated for the few
in flight at the kill."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import psycopg
import pytest
from aiohttp import web

from connectors.crm.migrations import migrate
from leadflow.config import DEFAULT_AUTOMATIONS
from tests.connectors.actions.test_delivery import action, daytime_zone, produce
from tests.local_server import local_server
from tests.processes import leadflow, wait_until

pytestmark = pytest.mark.integration
SECRET = "w" * 32
ACTIONS = 300


class Receiver:
    """A webhook target and a Postmark-compatible email API on one local port, each call taking 10 ms, so the
    delivery is mid-batch when it is killed."""

    def __init__(self) -> None:
        self.webhooks: Counter[str] = Counter()  # Idempotency-Key -> requests
        self.emails: Counter[str] = Counter()  # X-Leadflow-Action-Id -> messages
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        self.webhooks[request.headers["Idempotency-Key"]] += 1
        return web.Response(status=204)

    async def _email(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        body = await request.json()
        headers = {h["Name"]: h["Value"] for h in body.get("Headers", [])}
        self.emails[headers["X-Leadflow-Action-Id"]] += 1
        return web.json_response({"To": body["To"], "SubmittedAt": "2026-11-30T10:00:00Z",
                                  "MessageID": f"pm-{len(self.emails)}", "ErrorCode": 0, "Message": "OK"})

    def start(self) -> None:
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()
        assert self._ready.wait(10)

    async def _route(self, request: web.Request) -> web.Response:
        return await (self._hook if request.path == "/hook" else self._email)(request)

    async def _serve(self) -> None:
        async with local_server(self._route, method="POST") as base:
            self.port = int(base.rsplit(":", 1)[1])
            self._ready.set()
            await asyncio.Event().wait()


def done(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM action_deliveries WHERE status = 'sent'").fetchone()[0]


def test_a_delivery_killed_mid_batch_loses_nothing_and_repeats_nothing_to_an_idempotent_target(config, tmp_path):
    migrate(config.crm_dsn)
    receiver = Receiver()
    receiver.start()
    base = f"http://127.0.0.1:{receiver.port}"
    config = config.with_changes(automations_path=DEFAULT_AUTOMATIONS, webhook_secret=SECRET,
                                 email_provider="postmark", postmark_server_token="t" * 36, email_api_url=base,
                                 public_url="https://t.example.com")
    zone = daytime_zone()
    work = []
    for n in range(ACTIONS):
        if n % 2:
            work.append(action(n, "webhook", target=f"{base}/hook", step=None,
                               payload={"why": "w", "stage": "lead", "score": "1.00"}))
        else:
            work.append(action(n, payload={**action(n).payload, "profile.timezone": zone,
                                           "transactional": "true"}))  # not capped: 150 to 150 people anyway
    asyncio.run(produce(config, work))
    env = config.as_env()
    log = tmp_path / "actions.log"
    with leadflow(["actions"], env, log) as proc:
        assert wait_until(lambda: sum(receiver.webhooks.values()) + sum(receiver.emails.values()) >= ACTIONS // 4
                          or None, 60), log.read_text()[-3000:]
        proc.kill()  # SIGKILL: no chance to finish the batch, write its rows or commit
        proc.wait()
    at_kill = len(receiver.webhooks) + len(receiver.emails)
    assert at_kill < ACTIONS, "the delivery finished before it was killed; the test proves nothing"
    with leadflow(["actions"], env, log):
        assert wait_until(lambda: done(config.crm_dsn) == ACTIONS or None, 90), log.read_text()[-3000:]
    hooks = {a.action_id for a in work if a.type == "webhook"}
    mails = {a.action_id for a in work if a.type == "send_email"}
    assert set(receiver.webhooks) == hooks and set(receiver.emails) == mails  # nothing lost
    repeated = {k: n for k, n in (receiver.webhooks + receiver.emails).items() if n > 1}
    # a repeat is a call in flight at the kill (its row not yet written): at most one per prospect being served
    assert len(repeated) <= config.actions.actions_concurrency, repeated
    print(f"killed after {at_kill} of {ACTIONS} actions; repeated calls after the restart: {len(repeated)} "
          f"(webhook receivers drop them by Idempotency-Key)")
