"""The collector against the real broker: HTTP in, Avro records on the topics out."""

import asyncio

import pytest

from connectors.collector.pixel import COOKIE, GIF
from leadflow.signed_links import pixel_url
from schemas.records import Interaction, RejectedInput
from streams.core.identity import prospect_id_for
from tests.conftest import LINK_SECRET
from tests.connectors.collector.client import AUTH, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration


def test_pixel_answers_a_gif_sets_the_cookie_and_records_the_view(config):
    async def scenario(client):
        first = await client.get("/t/px.gif", params={"u": "https://a.io/pricing", "t": "Pricing"})
        body = await first.read()
        again = await client.get("/t/px.gif", params={"e": "email.opened", "m": "msg-1"})
        head = await client.head("/t/px.gif")
        return first, body, again, head

    first, body, again, head = with_client(config, scenario)
    assert first.status == 200 and body == GIF and first.headers["Content-Type"] == "image/gif"
    assert first.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    cookie = first.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) == 365 * 24 * 3600
    assert head.status == 200
    records = asyncio.run(read_topic(config, "interactions", 3))
    views = [r for _, r in records if r.type == "page.viewed" and r.url]
    opens = [r for _, r in records if r.type == "email.opened"]
    assert views[0].prospect_key == f"anon:{cookie.value}" and views[0].title == "Pricing"
    assert opens[0].message_id == "msg-1" and opens[0].anonymous_id == cookie.value  # the cookie was kept
    assert all(key == r.prospect_key.encode() for key, r in records)


def test_pixel_with_bad_parameters_still_answers_and_records_a_rejection(config):
    async def scenario(client):
        response = await client.get("/t/px.gif", params={"e": "rm -rf"})
        return response, await response.read()

    response, body = with_client(config, scenario)
    assert response.status == 200 and body == GIF and COOKIE not in response.cookies
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert isinstance(rejected, RejectedInput) and "e must be one of" in rejected.reason


def test_do_not_track_sets_no_cookie_and_records_nothing(config):
    async def scenario(client):
        return await client.get("/t/px.gif", headers={"DNT": "1"})

    response = with_client(config, scenario)
    assert response.status == 200 and COOKIE not in response.cookies
    assert asyncio.run(read_topic(config, "interactions", 1, timeout_s=2)) == []


def test_events_api_accepts_good_items_and_reports_bad_ones(config):
    batch = {"batch": [
        {"type": "page", "email": "Ann@Example.com", "messageId": "m1", "properties": {"url": "https://a.io/pricing"}},
        {"type": "track", "email": "ann@example.com"},
        {"type": "track", "anonymousId": "a1", "event": "email.clicked", "messageId": "m2"},
    ]}

    async def scenario(client):
        response = await client.post("/v1/events", json=batch, headers=AUTH)
        return response.status, await response.json()

    status, reply = with_client(config, scenario)
    assert status == 200
    assert reply["accepted"] == 2 and [e["index"] for e in reply["errors"]] == [1]
    assert "track needs an event name" in reply["errors"][0]["reason"] and reply["success"] is True
    records = [r for _, r in asyncio.run(read_topic(config, "interactions", 2))]
    by_id = {r.event_id: r for r in records}
    assert by_id["api:m1"].prospect_key == prospect_id_for("ann@example.com")
    assert by_id["api:m2"].prospect_key == "anon:a1" and by_id["api:m2"].type == "email.clicked"
    assert all(isinstance(r, Interaction) for r in records)
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert b'"type":"track","email":"ann@example.com"' in rejected.payload


@pytest.mark.parametrize("body, status, reason", [
    (b"{not json", 400, "not JSON"),
    (b'{"batch": []}', 400, "empty"),
    (b'{"batch": [{"type": "page"}]}', 400, None),
])
def test_events_api_refuses_bad_batches(config, body, status, reason):
    async def scenario(client):
        response = await client.post("/v1/events", data=body, headers={"Content-Type": "application/json", **AUTH})
        return response.status, await response.json()

    got_status, reply = with_client(config, scenario)
    assert got_status == status
    if reason:
        assert reason in reply["error"]
    else:
        assert reply["accepted"] == 0 and reply["errors"]


def test_events_api_limits_batch_size(config):
    async def scenario(client):
        items = [{"type": "page", "anonymousId": "a"}] * 2501
        response = await client.post("/v1/events", json={"batch": items}, headers=AUTH)
        return response.status, await response.json()

    status, reply = with_client(config, scenario)
    assert status == 413 and "at most 2500" in reply["error"]


def test_health_readiness_and_metrics(config):
    async def scenario(client):
        health = await client.get("/healthz")
        for _ in range(100):  # the producer connects in the background
            ready = await client.get("/readyz")
            if ready.status == 200:
                break
            await asyncio.sleep(0.1)
        await client.get("/t/px.gif")
        metrics = await client.get("/metrics")
        return health.status, await ready.json(), await metrics.text()

    health, ready, metrics = with_client(config, scenario)
    assert health == 200 and ready == {"status": "ready", "partitions": 3}
    assert 'leadflow_collector_inputs_total{outcome="accepted",source="pixel",type="page.viewed"}' in metrics


def test_events_api_needs_the_write_key_as_basic_username_or_bearer(config):
    from tests.conftest import WRITE_KEY

    item = {"type": "page", "anonymousId": "a"}

    async def scenario(client):
        statuses = []
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {WRITE_KEY}"}, AUTH):
            response = await client.post("/v1/events", json=item, headers=headers)
            statuses.append(response.status)
        return statuses

    assert with_client(config, scenario) == [401, 401, 200, 200]


def test_a_signed_pixel_records_an_open_for_the_known_prospect(config):
    url = pixel_url("http://x", LINK_SECRET, "Ann@Example.com", message_id="m-7")
    query = url.split("?", 1)[1]

    async def scenario(client):
        good = await client.get(f"/t/px.gif?{query}")
        tampered = await client.get(f"/t/px.gif?{query.replace('m=m-7', 'm=m-8')}")
        return good.status, tampered.status, await tampered.read()

    good, tampered, body = with_client(config, scenario)
    assert good == tampered == 200 and body == GIF
    [(key, opened)] = asyncio.run(read_topic(config, "interactions", 1))
    assert opened.type == "email.opened" and opened.prospect_id == prospect_id_for("ann@example.com")
    assert key == opened.prospect_id.encode() and opened.message_id == "m-7" and opened.email is None
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert rejected.reason.startswith("bad_signature")


def test_a_signed_open_pixel_cannot_be_replayed_as_page_views(config):
    """The finding: the signature covered only p and m, so e=page.viewed&u=.../pricing scored +20 per hit."""
    query = pixel_url("http://x", LINK_SECRET, "ann@example.com", message_id="m-7", campaign="spring").split("?", 1)[1]

    async def scenario(client):
        replayed = await client.get(f"/t/px.gif?{query.replace('e=email.opened', 'e=page.viewed')}&u=https://a.io/pricing")
        recampaigned = await client.get(f"/t/px.gif?{query.replace('c=spring', 'c=other')}")
        return replayed.status, recampaigned.status

    assert with_client(config, scenario) == (200, 200)
    assert asyncio.run(read_topic(config, "interactions", 1, timeout_s=2)) == []
    reasons = [r.reason for _, r in asyncio.run(read_topic(config, "rejected", 2))]
    assert all(reason.startswith("bad_signature") for reason in reasons) and len(reasons) == 2


def test_an_open_counts_once_per_prospect_and_message_in_each_window(config):
    day = 86_400_000
    now = [1_767_000_000_000 - 1_767_000_000_000 % day + 1000]  # just after a window starts
    query = pixel_url("http://x", LINK_SECRET, "ann@example.com", message_id="m-7").split("?", 1)[1]
    other = pixel_url("http://x", LINK_SECRET, "ann@example.com", message_id="m-8").split("?", 1)[1]

    async def scenario(client):
        for step in (0, 60_000, 3_600_000, day):  # two re-opens the same day, then the next day
            now[0] += step
            await client.get(f"/t/px.gif?{query}")
        await client.get(f"/t/px.gif?{other}")

    with_client(config, scenario, clock=lambda: now[0])
    opens = [r for _, r in asyncio.run(read_topic(config, "interactions", 5))]
    ids = [r.event_id for r in opens]
    assert ids[0] == ids[1] == ids[2] and len(set(ids)) == 3 and all(i.startswith("px:") for i in ids)
