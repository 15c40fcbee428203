"""Rejections cost little: truncated payloads, and a spool budget of their own while Kafka is away."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

from prometheus_client import REGISTRY

from connectors.collector.rejections import MAX_PAYLOAD, MAX_UNAUTHENTICATED_PAYLOAD, rejected_input
from connectors.collector.spool import Spool
from leadflow.config import Config
from leadflow.process import free_port
from schemas.codec import Codec
from tests.connectors.collector.client import with_client

WRITE_KEY = "wk_budget_test_key_0123456789"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_unauthenticated_payloads_are_truncated_with_their_size_recorded() -> None:
    before = sample("leadflow_collector_rejected_truncated_total", source="forms")
    record = rejected_input("forms", "bot: too fast", b"x" * 65_536, 1, "text/plain")
    assert len(record.payload) == MAX_UNAUTHENTICATED_PAYLOAD == 4096 and record.payload_size == 65_536
    assert sample("leadflow_collector_rejected_truncated_total", source="forms") == before + 1
    kept = rejected_input("webhook.ses", "invalid_event", b"y" * 70_000, 1, None, authenticated=True)
    assert len(kept.payload) == MAX_PAYLOAD and kept.payload_size == 70_000
    small = rejected_input("pixel", "bad", b"abc", 1, None)
    assert small.payload == b"abc" and small.payload_size == 3
    codec = Codec()
    assert codec.decode(codec.encode(record, "t.rejected")) == record  # the new field travels through Avro


def outage_config(tmp_path: Path, **changes) -> Config:
    """A collector whose Kafka never answers: everything it keeps goes to its disk spools."""
    settings = dict(bootstrap=f"127.0.0.1:{free_port()}", data_dir=tmp_path / "data", write_key=WRITE_KEY,
                    link_secret="link-secret-0123456789abcdef", crm_feedback_token="crm_token_0123456789abcdef",
                    mailgun_signing_key="key-budget-test-0123456789")
    return Config().with_changes(**{**settings, **changes})


def batch(tag: str, n: int) -> dict:
    return {"batch": [{"type": "track", "event": "email.opened", "anonymousId": f"visitor-{i}",
                       "messageId": f"{tag}-{i}", "properties": {"note": "n" * 150}} for i in range(n)]}


def test_a_flood_of_junk_during_an_outage_fills_only_its_own_budget(tmp_path) -> None:
    budget = 16 * 1024
    config = outage_config(tmp_path, spool_max_bytes=64 * 1024, rejected_spool_max_bytes=budget)
    dropped_before = sample("leadflow_collector_rejected_dropped_total")

    async def scenario(client):
        junk = [(await client.post("/v1/webhooks/mailgun", data=b"\x00junk" * 1200)).status for _ in range(60)]
        genuine = [(await client.post("/v1/events", json=batch(f"g{n}", 30), headers=AUTH)).status
                   for n in range(3)]
        ready = await client.get("/readyz")
        return junk, genuine, ready.status, await ready.json()

    junk, genuine, ready_status, ready = with_client(config, scenario)
    assert set(junk) == {406}  # every bad request still gets its 4xx, with no 5xx
    assert genuine == [200, 200, 200]  # junk took no room from accepted events
    rejected_dir = config.data_dir / "spool-rejected" / "0"
    stored = sum(p.stat().st_size for p in rejected_dir.glob("*.spool"))
    assert 0 < stored <= budget
    assert sample("leadflow_collector_rejected_dropped_total") > dropped_before  # the rest was counted, not kept
    spooled = Spool(rejected_dir).peek(1000)
    assert spooled and all(len(Codec().decode(r.value).payload) <= MAX_UNAUTHENTICATED_PAYLOAD for r in spooled)
    assert Codec().decode(spooled[0].value).payload_size == 6000
    assert (ready_status, ready) == (503, {"status": "not ready", "reason": "Kafka unreachable"})  # no internals


def test_spool_files_are_private_whatever_the_umask(tmp_path) -> None:
    import os

    old = os.umask(0o022)
    try:
        spool = Spool(tmp_path / "spool" / "0")
        from connectors.collector.spool import SpooledRecord

        spool.append([SpooledRecord("t", b"k", b"ada@example.com")])
        spool.advance(0)
        spool.append([SpooledRecord("t", b"k", b"x")])
        spool.advance(1)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "spool" / "0").stat().st_mode) == 0o700
    for path in (tmp_path / "spool" / "0").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
