"""The action delivery (`leadflow actions`) against the real broker and a real PostgreSQL: once each, later when
due, checked again at send time, one failing action dead-lettered alone."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from dataclasses import replace

import psycopg
import pytest
from aiohttp import web

from connectors.actions.delivery import ActionDelivery
from connectors.crm.dead_letters import entries as dead_letters
from connectors.crm.dead_letters import replay
from connectors.crm.migrations import migrate
from leadflow.config import DEFAULT_AUTOMATIONS, DEFAULT_MODEL
from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import Action, Interaction
from streams.core.automation_index import load_engine
from streams.core.model import load_model
from tests.topic_reader import read_all
from tests.in_process import run_until as run_in_process
from tests.local_server import local_server

pytestmark = pytest.mark.integration
SECRET = "w" * 32


def action(n: int, type_: str = "send_email", **changes) -> Action:
    now = int(time.time() * 1000)
    base = Action(action_id=f"act-{n}", prospect_id=f"p_{n:04d}", type=type_, source="welcome",
                  source_kind="program", file_version="automations-1", due_at=now, occurred_at=now,
                  cause_event_id=f"e{n}", step="welcome-email", target="welcome-1",
                  payload={"transactional": "false", "consent": "true", "profile.first_name": "Ada",
                           "profile.timezone": "Pacific/Kiritimati"}, email=f"ada{n}@example.com")
    return replace(base, **changes)


def rows(dsn: str, sql: str, *args):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


async def produce(config, records, topic_name: str = "actions"):
    producer = new_producer(config)
    await producer.start()
    codec, topic = Codec(), config.topic(topic_name)
    try:
        for record in records:
            key = (record.prospect_id or "").encode()
            await producer.send_and_wait(topic, key=key, value=codec.encode(record, topic))
    finally:
        await producer.stop()


async def run_until(config, done, timeout_s: float = 40.0) -> None:
    engine = load_engine(config.automations_path, load_model(DEFAULT_MODEL))
    await run_in_process(ActionDelivery(config, Codec(), engine).run, done, timeout_s)


def delivered(config) -> dict[str, tuple[str, str | None]]:
    return {row[0]: (row[1], row[2]) for row in rows(config.crm_dsn, "SELECT action_id, status, detail "
                                                                      "FROM action_deliveries")}


@pytest.fixture
def setup(config):
    """Outbox mode (the embedded default) with the shipped automation file and its templates; quiet hours kept
    out of the way by a prospect time zone where it is daytime... or not: the tests that send say so."""
    migrate(config.crm_dsn)
    return config.with_changes(automations_path=DEFAULT_AUTOMATIONS, webhook_secret=SECRET,
                               public_url="https://t.example.com")


def daytime_zone() -> str:
    """A time zone where it is now 12:00-18:00, outside the shipped file's quiet hours (21:00-08:00)."""
    hour = time.gmtime().tm_hour
    offset = (14 - hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # Etc/GMT-2 is UTC+2


def test_emails_tasks_and_notifications_land_in_the_outbox_once_each(setup):
    config = setup
    zone = {"profile.timezone": daytime_zone()}
    mail = action(1, payload={**action(1).payload, **zone})
    task = action(2, "crm_task", target="queue:inbound-sdr", step=None, source="promoted-to-sales",
                  source_kind="automation", payload={"title": "Call ada2@example.com", "task_due_at": "1767100000000",
                                                     "why": "stage promoted", "who": "Ada", "owner": "",
                                                     "queue": "inbound-sdr"})
    note = action(3, "notify", target="channel:#sales-signals", step=None, source="pricing-twice",
                  source_kind="automation", payload={"message": "ada3 viewed pricing twice", "why": "x2",
                                                     "who": "Ada", "owner": "", "queue": ""})
    tag = action(4, "tag", target="welcomed", payload={})

    async def main():
        await produce(config, [mail, task, note, tag, mail])  # the email twice: a redelivery
        await run_until(config, lambda: len(delivered(config)) == 3)

    asyncio.run(main())
    assert delivered(config) == {"act-1": ("written", "<act-1@example.com>"),  # the .eml's Message-ID
                                 "act-2": ("written", None), "act-3": ("written", None)}  # not act-4: the engine's
    outbox = config.data_dir / "outbox"
    emails = sorted(outbox.glob("*.eml"))
    assert len(emails) == 1, emails  # sent once though read twice
    message = email.message_from_bytes(emails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "ada1@example.com" and "Ada" in message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://t.example.com/t/u?")
    tasks = rows(config.crm_dsn, "SELECT id, kind, queue, title, status FROM crm_tasks ORDER BY id")
    assert tasks == [("act-2", "task", "inbound-sdr", "Call ada2@example.com", "open"),  # no chat webhook for the
                     ("act-3", "notification", "#sales-signals", "ada3 viewed pricing twice", "open")]  # channel
    assert len(list(outbox.glob("*.json"))) == 2


def test_an_unsubscribe_after_the_action_was_emitted_stops_the_email_at_send_time(setup):
    config = setup
    mail = action(5, payload={**action(5).payload, "profile.timezone": daytime_zone()})
    unsubscribe = Interaction(event_id="u5", prospect_key=mail.prospect_id, prospect_id=mail.prospect_id,
                              email=mail.email, type="email.unsubscribed", occurred_at=mail.due_at - 1000,
                              received_at=mail.due_at - 1000, source="unsubscribe", message_id="earlier")

    async def main():
        await produce(config, [unsubscribe], "interactions")
        engine = load_engine(config.automations_path, load_model(DEFAULT_MODEL))
        stop = asyncio.Event()
        task = asyncio.create_task(ActionDelivery(config, Codec(), engine).run(stop))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not rows(config.crm_dsn, "SELECT 1 FROM email_suppressions"):
            await asyncio.sleep(0.2)
        await produce(config, [mail])
        while time.monotonic() < deadline and "act-5" not in delivered(config):
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 15)

    asyncio.run(main())
    assert delivered(config)["act-5"] == ("suppressed", "unsubscribed")
    assert not list((config.data_dir / "outbox").glob("*.eml"))
    reports = [r for _, r in asyncio.run(read_all(config, "interactions")) if r.type == "action.suppressed"]
    assert [(r.message_id, r.properties["reason"]) for r in reports] == [("act-5", "unsubscribed")]


def test_an_action_due_later_waits_in_the_log_and_goes_when_due(setup):
    config = setup
    later = action(6, "crm_task", target="queue:q", step=None, due_at=int(time.time() * 1000) + 4000,
                   payload={"title": "Later", "task_due_at": "0", "why": "w", "who": "x", "owner": "", "queue": "q"})
    seen: list[str] = []

    def done() -> bool:
        status = delivered(config).get("act-6", ("",))[0]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == "written"

    async def main():
        await produce(config, [later])
        await run_until(config, done)

    asyncio.run(main())
    assert seen[-2:] == ["scheduled", "written"]
    created, = rows(config.crm_dsn, "SELECT extract(epoch from created_at) * 1000 FROM crm_tasks")[0]
    assert created >= later.due_at - 1000


def test_a_refused_webhook_is_dead_lettered_alone_the_others_are_delivered_and_a_replay_delivers_it(setup):
    got: list[dict] = []
    refusing = {"act-8"}

    async def receiver(request: web.Request) -> web.Response:
        body = await request.json()
        if body["action_id"] in refusing:
            return web.Response(status=400, text="no such hook")
        got.append({"key": request.headers["Idempotency-Key"], **body})
        return web.Response(status=204)

    async def main():
        async with local_server(receiver, "/hook", "POST") as base:
            config = setup.with_changes(email_provider="postmark", postmark_server_token="t" * 36, email_api_url=base)
            hooks = [action(n, "webhook", target=f"{base}/hook", step=None,
                            payload={"why": "w", "stage": "lead", "score": "50.00"}) for n in (7, 8, 9)]
            await produce(config, hooks)
            await run_until(config, lambda: len(delivered(config)) == 2 and
                            len(asyncio.run(dead_letters(config, Codec()))) >= 1)
            assert sorted(g["key"] for g in got) == ["act-7", "act-9"]
            assert all(g["schema"] == "Action" for g in got)
            [entry] = await dead_letters(config, Codec())
            letter = entry.letter
            assert (letter.error[:8], letter.target, letter.key, letter.source_topic) == (
                "HTTP 400", "actions", b"p_0008", config.topic("actions"))
            assert "no such hook" in letter.error and entry.summary == "Action webhook p_0008"
            refusing.clear()  # the cause fixed: `leadflow dlq replay` puts it back, and it is delivered once
            await replay(config, Codec())
            await run_until(config, lambda: len(delivered(config)) == 3)

    asyncio.run(main())
    assert sorted(g["key"] for g in got) == ["act-7", "act-8", "act-9"]
