"""The CRM sink against the real broker and a real PostgreSQL."""

import asyncio
from dataclasses import replace

import psycopg
import pytest

from connectors.crm.migrations import available, migrate
from connectors.crm.postgres import latest_per_prospect, write_batch
from connectors.crm.sink import CrmSink
from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import LeadEvent, Score, SlaEvent, TimelineEntry
from streams.core.identity import normalize_email
from tests.in_process import run_until

pytestmark = pytest.mark.integration


def lead(pid: str, version: int, total: float, stage: str = "lead", n_timeline: int = 2) -> LeadEvent:
    timeline = tuple(TimelineEntry(f"{pid}-e{i}", "page.viewed", 1000 * i, "pixel", f"/p{i}", 10.0)
                     for i in range(n_timeline - 1))
    timeline += (TimelineEntry(f"{pid}-e{n_timeline - 1}", "event.tracked", 1000 * (n_timeline - 1), "events_api",
                               None, 40.0, "Demo Requested"),)
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
    await run_until(CrmSink(config, Codec()).run, done, timeout_s, stop_timeout_s=10)


def test_migrate_is_idempotent_and_versioned(crm_dsn):
    applied = migrate(crm_dsn)
    assert [m.version for m in applied] == [m.version for m in available()]
    assert migrate(crm_dsn) == []
    assert rows(crm_dsn, "SELECT version FROM leadflow_schema_migrations ORDER BY 1") == [
        (m.version,) for m in available()]
    assert [m.version for m in available()] == list(range(1, len(available()) + 1))  # numbered without gaps


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
    assert rows(config.crm_dsn, "SELECT event_id, type, event_name FROM crm_lead_activities WHERE prospect_id = 'a' "
                "ORDER BY 1") == [("a-e0", "page.viewed", None), ("a-e1", "event.tracked", "Demo Requested"),
                                  ("a-e2", "event.tracked", "Demo Requested")]


def test_a_stale_update_never_overwrites_newer_state(crm_dsn):
    migrate(crm_dsn)

    async def main():
        async with await psycopg.AsyncConnection.connect(crm_dsn, autocommit=True) as conn:
            await write_batch(conn, [lead("a", 5, 90)], [])
            await write_batch(conn, [lead("a", 3, 40)], [])  # separate transactions: the database guard decides
            await write_batch(conn, [lead("a", 5, 90)], [])  # a replay changes nothing either

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
            await write_batch(conn, [], [step("sla.started", at=1_000), step("sla.met", at=5_000)])
            await write_batch(conn, [], [step("sla.started", at=1_000), step("sla.met", at=5_000)])  # redelivered
            await write_batch(conn, [], [step("sla.started", at=1_000)])  # an old step, late

    asyncio.run(main())
    assert rows(crm_dsn, SLA_ROW) == [("first-response", "met", 9, None, 5, 0, None)]


def update(pid: str, version: int, activity: list[str], owner=None, queue=None) -> LeadEvent:
    return LeadEvent(event_id=f"{pid}-u{version}", prospect_id=pid, type="lead.updated", occurred_at=9000,
                     received_at=9000, version=version, stage="accepted", score=Score(80, 0, 80), model_version="m1",
                     cause_event_id=activity[-1], email=f"{pid}@x.io", promoted_at=5000,
                     timeline=tuple(TimelineEntry(e, "email.opened", 8000, "sendgrid") for e in activity),
                     owner=owner, queue=queue)


def test_every_update_in_a_batch_adds_its_activity_and_the_newest_owns_the_row(crm_dsn):
    migrate(crm_dsn)

    async def main():
        async with await psycopg.AsyncConnection.connect(crm_dsn, autocommit=True) as conn:
            await write_batch(conn, [lead("a", 1, 60), update("a", 2, ["x1"], queue="sdr"),
                                     update("a", 3, ["x2", "x3"], owner="alice", queue="sdr")], [])

    asyncio.run(main())
    assert rows(crm_dsn, "SELECT stage, owner, queue, version FROM crm_leads") == [("accepted", "alice", "sdr", 3)]
    assert rows(crm_dsn, "SELECT event_id FROM crm_lead_activities ORDER BY 1") == [
        ("a-e0",), ("a-e1",), ("x1",), ("x2",), ("x3",)]


def dead_letters(config):
    from connectors.crm.dead_letters import entries

    return asyncio.run(entries(config, Codec()))


def test_a_record_that_can_never_be_written_is_dead_lettered_and_the_rest_are_written(config):
    from connectors.crm.dead_letters import replay

    migrate(config.crm_dsn)
    poisoned = replace(lead("bad", 1, 70), profile={"company": "Acme\x00Corp"})  # PostgreSQL text cannot hold NUL

    async def main():
        await produce(config, [lead("a", 1, 60), poisoned, lead("b", 1, 65)])
        producer = new_producer(config)
        await producer.start()
        await producer.send_and_wait(config.topic("leads"), key=b"junk", value=b"\x00not avro")
        await producer.stop()
        await run_sink_until(config, lambda: rows(config.crm_dsn, "SELECT count(*) FROM crm_leads")[0][0] == 2
                             and len(dead_letters(config)) == 2)

    asyncio.run(main())
    assert rows(config.crm_dsn, "SELECT prospect_id FROM crm_leads ORDER BY 1") == [("a",), ("b",)]
    letters = dead_letters(config)
    errors = sorted(e.letter.error for e in letters)
    assert errors[0].startswith("UntranslatableCharacter") and errors[1].startswith("undecodable")
    assert {e.letter.target for e in letters} == {"postgres"} and not any(e.replayed for e in letters)
    assert sorted(e.summary for e in letters) == ["9 undecodable bytes", "LeadEvent lead.promoted bad"]

    nul = next(e for e in letters if "Untranslatable" in e.letter.error)
    replayed = asyncio.run(replay(config, Codec(), {nul.letter.event_id}))
    assert [e.letter.event_id for e in replayed] == [nul.letter.event_id]
    assert sorted(e.letter.event_id for e in asyncio.run(replay(config, Codec()))) == sorted(
        e.letter.event_id for e in letters)  # picking one does not count as replaying the pending ones
    assert all(e.replayed for e in dead_letters(config)) and asyncio.run(replay(config, Codec())) == []


def test_verdicts_written_to_crm_feedback_are_published_once_and_bad_rows_marked(config):
    from schemas.records import CrmFeedback
    from streams.core.identity import prospect_id_for
    from tests.topic_reader import read_topic

    migrate(config.crm_dsn)
    with psycopg.connect(config.crm_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO crm_feedback (email, verdict, owner) VALUES ('ann@example.com', 'accepted', 'alice')")
        conn.execute("INSERT INTO crm_feedback (email, verdict) VALUES ('not-an-email', 'lost')")

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(CrmSink(config, Codec()).run(stop))
        try:
            await asyncio.sleep(1.5)  # the sweep on start took the two rows; this one comes by NOTIFY
            await asyncio.to_thread(rows, config.crm_dsn, "INSERT INTO crm_feedback (prospect_id, verdict, deal_value) "
                                                          "VALUES ('p_9', 'won', 1200.5) RETURNING id")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3  # well under the 5 s sweep: only the notification can be this quick
            while loop.time() < deadline and (await asyncio.to_thread(
                    rows, config.crm_dsn, "SELECT count(*) FROM crm_feedback WHERE published_at IS NULL"))[0][0]:
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())
    marked = rows(config.crm_dsn, "SELECT verdict, event_id IS NOT NULL, error FROM crm_feedback ORDER BY id")
    assert marked == [("accepted", True, None), ("lost", False, "not a valid email address: 'not-an-email'"),
                      ("won", True, None)]
    published = {r.type: (k, r) for k, r in asyncio.run(read_topic(config, "crm-feedback", 2))}
    key, accepted = published["accepted"]
    assert isinstance(accepted, CrmFeedback) and key == prospect_id_for("ann@example.com").encode()
    assert accepted.owner == "alice" and published["won"][1].deal_value == 1200.5
    assert rows(config.crm_dsn, "SELECT event_id FROM crm_feedback WHERE verdict = 'won'") == [
        (published["won"][1].event_id,)]


def nasty(limit: int, kind: str = "text") -> str:
    """The longest text hygiene lets through, from every allowed range: accents, CJK, RTL, emoji (astral),
    quotes, backslashes, %-placeholders, SQL-looking text, the noncharacter U+FFFF; tab and newline in free text."""
    from streams.core.hygiene import problem

    pieces = ["Zoë Ünal ", "東京 ", "שלום עולם ", "مرحبا ", "🚀👩‍💻 ", "'\"`", "\\\\n\\0 ", "%s %(x)s {0} ",
              "'); DROP TABLE crm_leads;-- ", "\u00a0\u200b\ufeff\uffff ", "\U0010fffd "]
    if kind == "text":
        pieces.append("line\n\ttab\r\n")
    text = ("".join(pieces) * (limit // 40 + 1))[:limit]
    assert problem(text, limit, kind) is None
    return text


def test_the_nastiest_record_the_collector_accepts_is_stored(crm_dsn):
    """Whatever passes the collector's hygiene, the CRM tables store as it is: nothing the worker emits is refused."""
    from streams.core.hygiene import LIMITS, MAX_KEY, MAX_VALUE

    migrate(crm_dsn)
    email = ("ü'" + "x" * 62)[:64] + "@" + ".".join(["a" * 63, "b" * 63, "c" * 58]) + ".io"
    assert len(email) == 254 and normalize_email(email) == email
    profile = {nasty(MAX_KEY, "line"): nasty(MAX_VALUE), "company": nasty(2000), "empty": ""}
    entry = TimelineEntry(nasty(LIMITS["event_id"][0], "line"), "event.tracked", -62_135_596_800_000, "events_api",
                          nasty(LIMITS["url"][0], "line"), 1.5, nasty(LIMITS["event"][0], "line"))
    event = replace(lead("p_nasty", 1, 60), email=email, profile=profile, timeline=(entry,),
                    owner=nasty(500, "line"), queue=nasty(500, "line"), segments=(nasty(100, "line"),))

    async def main():
        async with await psycopg.AsyncConnection.connect(crm_dsn, autocommit=True) as conn:
            await write_batch(conn, [event], [])

    asyncio.run(main())
    [(stored_email, stored_profile, owner, segments)] = rows(crm_dsn, "SELECT email, profile, owner, segments "
                                                                      "FROM crm_leads")
    assert (stored_email, stored_profile, owner, segments) == (email, profile, event.owner, list(event.segments))
    [(event_id, url, name)] = rows(crm_dsn, "SELECT event_id, url, event_name FROM crm_lead_activities")
    assert (event_id, url, name) == (entry.event_id, entry.url, entry.event)
