"""The CRM sink against the real broker and a real PostgreSQL."""

import asyncio

import psycopg
import pytest

from connectors.crm.migrations import available, migrate
from connectors.crm.postgres import latest_per_prospect, write_leads
from connectors.crm.sink import CrmSink
from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import LeadEvent, Score, TimelineEntry

pytestmark = pytest.mark.integration


def lead(pid: str, version: int, total: float, stage: str = "lead", n_timeline: int = 2) -> LeadEvent:
    timeline = tuple(TimelineEntry(f"{pid}-e{i}", "page.viewed", 1000 * i, "pixel", f"/p{i}", 10.0)
                     for i in range(n_timeline))
    return LeadEvent(event_id=f"{pid}-v{version}", prospect_id=pid, type="lead.promoted", occurred_at=5000,
                     received_at=5000, version=version, stage=stage, score=Score(total, 0, total),
                     model_version="m1", cause_event_id=f"{pid}-e{n_timeline - 1}", email=f"{pid}@x.io",
                     promoted_at=5000, profile={"company": "Acme"}, segments=("pricing",), timeline=timeline)


def rows(dsn: str, sql: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


async def produce(config, events):
    producer = new_producer(config)
    await producer.start()
    codec, topic = Codec(), config.topic("leads")
    try:
        for event in events:
            await producer.send_and_wait(topic, key=event.prospect_id.encode(), value=codec.encode(event, topic))
    finally:
        await producer.stop()


async def run_sink_until(config, done, timeout_s: float = 30.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(CrmSink(config, Codec()).run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while not await asyncio.to_thread(done) and loop.time() < deadline:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_migrate_is_idempotent_and_versioned(crm_dsn):
    applied = migrate(crm_dsn)
    assert [m.version for m in applied] == [m.version for m in available()]
    assert migrate(crm_dsn) == []
    assert rows(crm_dsn, "SELECT version FROM leadflow_schema_migrations") == [(1,)]


def test_sink_upserts_leads_and_their_timeline_once(config):
    migrate(config.crm_dsn)
    events = [lead("a", 1, 50), lead("b", 1, 60), lead("a", 2, 70, n_timeline=3), lead("a", 2, 70, n_timeline=3)]

    async def main():
        await produce(config, events)
        await run_sink_until(config, lambda: rows(config.crm_dsn, "SELECT count(*) FROM crm_leads")[0][0] == 2
                             and rows(config.crm_dsn, "SELECT count(*) FROM crm_lead_activities")[0][0] == 5)

    asyncio.run(main())
    leads = rows(config.crm_dsn, "SELECT prospect_id, score_total, version, stage, profile, segments "
                                 "FROM crm_leads ORDER BY 1")
    assert leads == [("a", 70.0, 2, "lead", {"company": "Acme"}, ["pricing"]),
                     ("b", 60.0, 1, "lead", {"company": "Acme"}, ["pricing"])]
    assert rows(config.crm_dsn, "SELECT count(*) FROM crm_lead_activities WHERE prospect_id = 'a'") == [(3,)]


def test_a_stale_update_never_overwrites_newer_state(crm_dsn):
    migrate(crm_dsn)

    async def main():
        async with await psycopg.AsyncConnection.connect(crm_dsn, autocommit=True) as conn:
            await write_leads(conn, [lead("a", 5, 90)])
            await write_leads(conn, [lead("a", 3, 40)])  # separate transactions: the database guard decides
            await write_leads(conn, [lead("a", 5, 90)])  # a replay changes nothing either

    asyncio.run(main())
    assert rows(crm_dsn, "SELECT score_total, version, last_event_id FROM crm_leads") == [(90.0, 5, "a-v5")]


def test_within_a_batch_the_highest_version_wins():
    assert [e.version for e in latest_per_prospect([lead("a", 5, 1), lead("a", 3, 1), lead("b", 1, 1)])] == [5, 1]
