"""The CRM sink against the real broker and a real PostgreSQL."""

import asyncio

import psycopg
import pytest

from connectors.crm.migrations import available, migrate
from connectors.crm.postgres import latest_per_prospect, write_leads, write_sla
from connectors.crm.sink import CrmSink
from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import LeadEvent, Score, SlaEvent, TimelineEntry

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


async def produce(config, events, topic_name: str = "leads"):
    producer = new_producer(config)
    await producer.start()
    codec, topic = Codec(), config.topic(topic_name)
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
    assert rows(crm_dsn, "SELECT version FROM leadflow_schema_migrations ORDER BY 1") == [(1,), (2,), (3,)]


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


def step(kind: str, level: int = 0, owner: str | None = None, at: int = 9_000) -> SlaEvent:
    return SlaEvent(event_id=f"{kind}-{level}", prospect_id="a", sla_id="first-response", type=kind, occurred_at=at,
                    received_at=at, started_at=1_000, due_at=9_000, escalation_level=level, owner=owner)


SLA_ROW = ("SELECT sla_id, status, extract(epoch FROM due_at)::int, extract(epoch FROM breached_at)::int, "
           "extract(epoch FROM met_at)::int, escalation_level, owner FROM crm_sla_timers")


def test_the_sink_keeps_one_row_per_sla_clock(config):
    migrate(config.crm_dsn)
    steps = [step("sla.started", at=1_000), step("sla.breached"), step("sla.escalated", 1, "queue:second", 11_000)]

    async def main():
        await produce(config, steps, "sla")
        await run_sink_until(config, lambda: rows(config.crm_dsn, "SELECT count(*) FROM crm_sla_timers "
                                                                  "WHERE escalation_level = 1")[0][0] == 1)

    asyncio.run(main())
    assert rows(config.crm_dsn, SLA_ROW) == [("first-response", "breached", 9, 9, None, 1, "queue:second")]


def test_replayed_or_reordered_sla_steps_never_take_a_clock_back(crm_dsn):
    migrate(crm_dsn)

    async def main():
        async with await psycopg.AsyncConnection.connect(crm_dsn, autocommit=True) as conn:
            await write_sla(conn, [step("sla.started", at=1_000), step("sla.met", at=5_000)])
            await write_sla(conn, [step("sla.started", at=1_000), step("sla.met", at=5_000)])  # redelivered
            await write_sla(conn, [step("sla.started", at=1_000)])  # an old step, late

    asyncio.run(main())
    assert rows(crm_dsn, SLA_ROW) == [("first-response", "met", 9, None, 5, 0, None)]
