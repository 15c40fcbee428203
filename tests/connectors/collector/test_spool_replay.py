"""Nothing lost: Kafka goes away, the collector spools to disk, survives a restart, and replays in order."""

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.collector.pixel import GIF
from connectors.collector.server import create_app
from leadflow.embedded.broker import EmbeddedBroker
from leadflow.process import free_port
from leadflow.topics import create_topics
from schemas.codec import Codec
from tests.connectors.collector.client import AUTH, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration


def batch(tag: str, n: int) -> dict:
    return {"batch": [{"type": "track", "event": "email.opened", "anonymousId": f"visitor-{i % 3}",
                       "messageId": f"{tag}-{i}"} for i in range(n)]}


async def wait_ready(client) -> None:
    for _ in range(100):
        if (await client.get("/readyz")).status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("collector never became ready")


async def post(client, payload) -> int:
    response = await client.post("/v1/events", json=payload, headers=AUTH)
    return response.status


def test_spooled_events_survive_a_broker_outage_and_a_collector_restart(config, tmp_path):
    broker = EmbeddedBroker("127.0.0.1", free_port(), tmp_path / "broker.log")
    config = config.with_changes(bootstrap=broker.start(), topic_prefix=f"sp{uuid.uuid4().hex[:8]}")
    create_topics(config)
    accepted: list[str] = []

    async def first_collector():
        client = TestClient(TestServer(create_app(config, Codec())))
        await client.start_server()
        try:
            await wait_ready(client)
            assert await post(client, batch("warm", 3)) == 200
            assert "leadflow_collector_spool_records 0.0" in await (await client.get("/metrics")).text()
            broker.stop()  # memory-only: what it held is gone, so only what follows is counted
            for n in range(5):
                assert await post(client, batch(f"down{n}", 4)) == 200
                accepted.extend(f"api:down{n}-{i}" for i in range(4))
        finally:
            await client.close()  # cannot drain: the spool keeps the records on disk

    asyncio.run(first_collector())
    assert list((config.data_dir / "spool").rglob("*.spool"))
    broker.start()
    create_topics(config)

    async def second_collector():
        client = TestClient(TestServer(create_app(config, Codec())))
        await client.start_server()
        try:
            assert await post(client, batch("after", 5)) == 200
            accepted.extend(f"api:after-{i}" for i in range(5))
            await wait_ready(client)
        finally:
            await client.close()

    try:
        asyncio.run(second_collector())
        records = [r for _, r in asyncio.run(read_topic(config, "interactions", len(accepted), timeout_s=30))]
    finally:
        broker.stop()
    ids = [r.event_id for r in records]
    assert set(ids) == set(accepted) and len(set(ids)) == len(accepted)  # exactly once after de-duplication
    for visitor in ("anon:visitor-0", "anon:visitor-1", "anon:visitor-2"):
        order = [r.event_id for r in records if r.prospect_key == visitor]
        first_seen = list(dict.fromkeys(order))
        assert first_seen == [i for i in accepted if i in set(order)]  # per-prospect order kept


def test_a_full_spool_answers_503_but_pixels_still_get_their_gif(config):
    config = config.with_changes(bootstrap=f"127.0.0.1:{free_port()}", spool_max_bytes=1500)

    async def scenario(client):
        statuses = []
        for n in range(20):
            response = await client.post("/v1/events", json=batch(f"b{n}", 2), headers=AUTH)
            statuses.append((response.status, response.headers.get("Retry-After")))
        pixel = await client.get("/t/px.gif")
        metrics = await (await client.get("/metrics")).text()
        return statuses, pixel.status, await pixel.read(), metrics

    statuses, pixel_status, body, metrics = with_client(config, scenario)
    assert statuses[0] == (200, None)
    assert (503, "10") in statuses and statuses[-1] == (503, "10")
    assert pixel_status == 200 and body == GIF
    assert "leadflow_collector_spool_full_total" in metrics
