"""The `leadflow sink` process under failure: killed mid-batch, and its database gone for 30 s under load.

Nothing may be lost (every lead at its newest version, every activity row present) and
nothing duplicated (one row per lead and per activity, the CRM's version guard intact)."""

import asyncio
import threading
import time

import psycopg
import pytest

from connectors.crm.migrations import migrate
from leadflow.embedded.postgres import EmbeddedPostgres
from leadflow.kafka import new_producer
from leadflow.process import free_ports
from schemas.codec import Codec
from schemas.records import LeadEvent, Score, TimelineEntry
from tests.conftest import traversable_tmp
from tests.processes import leadflow

pytestmark = pytest.mark.integration


def lead_version(n: int, version: int) -> LeadEvent:
    """Version 1 promotes prospect n with two activities; each later version is an update with one more."""
    pid = f"p{n}"
    entries = ((TimelineEntry(f"{pid}-a0", "form.submitted", 1000, "forms"),
                TimelineEntry(f"{pid}-a1", "page.viewed", 1001, "pixel", "/pricing"))
               if version == 1 else (TimelineEntry(f"{pid}-a{version}", "email.opened", 1000 + version, "sendgrid"),))
    return LeadEvent(event_id=f"{pid}-v{version}", prospect_id=pid, type="lead.promoted" if version == 1 else
                     "lead.updated", occurred_at=1000 + version, received_at=int(time.time() * 1000),
                     version=version, stage="lead", score=Score(50.0 + version, 0, 50.0 + version),
                     model_version="m1", cause_event_id=entries[-1].event_id, email=f"{pid}@x.io", promoted_at=1000,
                     timeline=entries)


async def produce(config, events) -> None:
    producer = new_producer(config)
    await producer.start()
    codec, topic = Codec(), config.topic("leads")
    try:
        futures = [await producer.send(topic, key=e.prospect_id.encode(), value=codec.encode(e, topic))
                   for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def count(dsn: str, sql: str) -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute(sql).fetchone()[0]
    except psycopg.OperationalError:
        return -1


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def assert_complete(dsn: str, prospects: int, versions: int) -> None:
    with psycopg.connect(dsn) as conn:
        leads = conn.execute("SELECT count(*), min(version), max(version), count(DISTINCT last_event_id) "
                             "FROM crm_leads").fetchone()
        activities = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM crm_lead_activities").fetchone()
    assert leads == (prospects, versions, versions, prospects)  # everyone at the newest version
    assert activities == (prospects * (versions + 1),) * 2  # every activity, once


def test_a_sink_killed_mid_batch_loses_and_duplicates_nothing(config, tmp_path):
    migrate(config.crm_dsn)
    prospects, versions = 2000, 10
    asyncio.run(produce(config, [lead_version(n, v) for v in range(1, versions + 1) for n in range(prospects)]))
    total = prospects * (versions + 1)
    activities = "SELECT count(*) FROM crm_lead_activities"
    env = config.as_env()
    with leadflow(["sink"], env, tmp_path / "sink.log") as sink:
        assert wait_until(lambda: count(config.crm_dsn, activities) >= total // 5, 60), (tmp_path / "sink.log").read_text()
        sink.kill()  # SIGKILL: no chance to finish the batch or commit
        sink.wait()
    killed_at = count(config.crm_dsn, activities)
    assert killed_at < total, "the sink finished before it was killed; the test proves nothing"
    with leadflow(["sink"], env, tmp_path / "sink.log"):
        assert wait_until(lambda: count(config.crm_dsn, activities) == total
                          and count(config.crm_dsn, "SELECT count(*) FROM crm_leads WHERE version = 10") == prospects,
                          90), (tmp_path / "sink.log").read_text()[-3000:]
    assert_complete(config.crm_dsn, prospects, versions)


def test_the_sink_rides_out_its_database_stopping_for_30_seconds_under_load(config, tmp_path):
    with traversable_tmp("leadflow-pg-outage-") as workdir:
        [port] = free_ports(1)
        postgres = EmbeddedPostgres(workdir / "pgdata", "127.0.0.1", port, workdir / "postgres.log")
        dsn = postgres.start()
        try:
            migrate(dsn)
            config = config.with_changes(crm_dsn=dsn)
            prospects, versions = 400, 10
            waves = [[lead_version(n, v) for n in range(prospects)] for v in range(1, versions + 1)]

            def load():  # 4,000 events over ~50 s, straight through the outage
                for wave in waves:
                    asyncio.run(produce(config, wave))
                    time.sleep(5)

            with leadflow(["sink"], config.as_env(), tmp_path / "sink.log"):
                producer = threading.Thread(target=load)
                producer.start()
                assert wait_until(lambda: count(dsn, "SELECT count(*) FROM crm_leads") == prospects, 30)
                postgres.stop()
                stopped_at = time.monotonic()
                time.sleep(30)
                postgres.start()
                producer.join()
                caught_up = wait_until(lambda: count(dsn, "SELECT count(*) FROM crm_leads WHERE version = 10")
                                       == prospects, 60)
                outage_s = time.monotonic() - stopped_at
                log = (tmp_path / "sink.log").read_text()
                assert caught_up, log[-3000:]
            assert outage_s >= 30 and "CRM database unavailable" in log  # it did retry, and then caught up
            assert_complete(dsn, prospects, versions)
        finally:
            postgres.stop()
