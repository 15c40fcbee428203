"""`GET|POST /t/u`: a GET only asks, a signed POST (RFC 8058 one-click or the page's button) unsubscribes once."""

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from connectors.collector.unsubscribe import unsubscribe_event_id
from leadflow.signed_links import unsubscribe_url
from streams.core.identity import prospect_id_for
from tests.conftest import LINK_SECRET
from tests.connectors.collector.client import NOW, with_client
from tests.topic_reader import read_all, read_topic

pytestmark = pytest.mark.integration

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
PID = prospect_id_for("ann@example.com")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def link(message_id: str = "act-1") -> str:
    return path_of(unsubscribe_url("http://collector", LINK_SECRET, "Ann@Example.com", message_id))


def altered(path: str, **changes: str | None) -> str:
    params = dict(parse_qsl(urlsplit(path).query))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return "/t/u?" + urlencode(params)


def test_the_event_id_depends_on_the_prospect_and_the_message_only():
    assert unsubscribe_event_id("p1", "m1") == unsubscribe_event_id("p1", "m1")
    assert len({unsubscribe_event_id("p1", "m1"), unsubscribe_event_id("p1", "m2"),
                unsubscribe_event_id("p2", "m1")}) == 3
    assert unsubscribe_event_id("p1", "m1").startswith("unsub:")


def test_a_get_asks_and_records_nothing_and_a_post_unsubscribes_once(config):
    path = link()

    async def scenario(client):
        asked = await client.get(path, headers=BROWSER)
        head = await client.head(path)
        form, asked_headers = await asked.text(), asked.headers
        before = await read_all(config, "interactions")
        provider = await client.post(path, **ONE_CLICK)  # a mailbox provider's one-click: no browser, no cookies
        replayed = await client.post(path, **ONE_CLICK)
        button = await client.post(path, data={"List-Unsubscribe": "One-Click"}, headers=BROWSER)
        return (asked.status, form, asked_headers, head.status, before, provider.status, await provider.text(),
                replayed.status, button.status, await button.text(), button.headers.get("Content-Type"))

    (status, form, headers, head, before, provider, provider_text, replayed, button, button_page,
     button_type) = with_client(config, scenario)
    assert status == 200 and head == 200 and before == []
    assert '<form method="post">' in form and 'name="List-Unsubscribe" value="One-Click"' in form
    assert "<script" not in form and "<img" not in form and "Set-Cookie" not in headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert (provider, replayed, button) == (200, 200, 200)
    assert "unsubscribed" in provider_text and "<" not in provider_text
    assert button_type.startswith("text/html") and "You are unsubscribed" in button_page

    records = asyncio.run(read_topic(config, "interactions", 3))
    assert len(records) == 3
    assert {key for key, _ in records} == {PID.encode()}
    first = records[0][1]
    assert {r.event_id for _, r in records} == {unsubscribe_event_id(PID, "act-1")}  # the worker keeps one
    assert (first.type, first.prospect_key, first.prospect_id, first.message_id, first.source) == \
        ("email.unsubscribed", PID, PID, "act-1", "unsubscribe")
    assert (first.occurred_at, first.received_at) == (NOW, NOW)
    assert first.email is None and first.ip is None and first.user_agent is None and first.anonymous_id is None


def test_another_message_is_another_event(config):
    async def scenario(client):
        for message in ("act-1", "act-2"):
            assert (await client.post(link(message), **ONE_CLICK)).status == 200

    with_client(config, scenario)
    records = asyncio.run(read_topic(config, "interactions", 2))
    assert [r.message_id for _, r in records] == ["act-1", "act-2"]
    assert records[0][1].event_id != records[1][1].event_id


def test_a_bad_link_is_a_400_with_the_reason_and_records_nothing(config):
    path = link()
    cases = [
        (altered(path, m="act-2"), "signature does not match"),
        (altered(path, p=prospect_id_for("bob@example.com")), "signature does not match"),
        (altered(path, s="AAAAAAAAAAAAAAAAAAAAAA"), "signature does not match"),
        (altered(path, s=None), "signature missing"),
        ("/t/u", "signature missing"),
    ]

    async def scenario(client):
        out = []
        for bad, _ in cases:
            post = await client.post(bad, **ONE_CLICK)
            page = await client.post(bad, data={"List-Unsubscribe": "One-Click"}, headers=BROWSER)
            get = await client.get(bad, headers=BROWSER)
            out.append((post.status, await post.text(), page.status, page.headers.get("Content-Type"),
                        await page.text(), get.status, await get.text()))
        return out

    results = with_client(config, scenario)
    for (status, text, page_status, page_type, page, get_status, get_page), (_, reason) in zip(results, cases):
        assert (status, page_status, get_status) == (400, 400, 400)
        assert reason in text and reason in page and reason in get_page
        assert page_type.startswith("text/html") and "<form" not in get_page  # nothing to confirm
    assert asyncio.run(read_all(config, "interactions")) == []
    rejected = asyncio.run(read_topic(config, "rejected", 3 * len(cases)))
    assert len(rejected) == 3 * len(cases)
    assert {r.source for _, r in rejected} == {"unsubscribe"}
    assert all(r.reason.startswith("bad_link: ") for _, r in rejected)


def test_without_a_link_secret_unsubscribe_links_are_refused_not_failed(config):
    from dataclasses import replace

    unconfigured = replace(config, secrets=replace(config.secrets, link_secret=None))

    async def scenario(client):
        response = await client.post(link(), **ONE_CLICK)
        return response.status, await response.text()

    status, text = with_client(unconfigured, scenario)
    assert status == 400 and "LEADFLOW_LINK_SECRET" in text
