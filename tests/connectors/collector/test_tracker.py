"""The website tracker's endpoints: the script (`GET /t/lf.js`) and its hits (`POST /t/e`), against the real broker."""

import asyncio
import json
import re
from pathlib import Path

import pytest

from connectors.collector.pixel import COOKIE
from connectors.collector.segment import ItemError
from connectors.collector.tracker import (SCRIPT, browser_interaction, browser_item, render_script, script_version,
                                          snippet)
from schemas.records import Interaction
from streams.core.identity import prospect_id_for
from tests.connectors.collector.client import NOW, with_client
from tests.topic_reader import read_topic

AID = "0123456789abcdef0123456789abcdef"
README = Path(__file__).resolve().parents[3] / "README.md"
PAGE = {"type": "page", "anonymousId": AID, "messageId": "m1", "timestamp": "2001-01-01T00:00:00Z",
        "properties": {"utm_campaign": "spring", "utm_source": "news"},
        "context": {"page": {"url": "https://www.example.com/pricing?utm_campaign=spring&utm_source=news",
                             "title": "Pricing", "referrer": "https://www.example.com/"},
                    "campaign": {"name": "spring", "source": "news"}}}
TEXT = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 test", "X-Forwarded-For": "203.0.113.77"}


def view(**changes) -> Interaction:
    fields = dict(event_id="api:m1", prospect_key="anon:a", type="page.viewed", occurred_at=NOW, received_at=NOW,
                  source="events_api", url="https://www.example.com/")
    return Interaction(**{**fields, **changes})


def test_the_script_declares_its_version_and_learns_the_consent_mode():
    source = SCRIPT.read_text()
    assert script_version(source) == "1"
    assert b'var CONSENT_MODE = "required";' in render_script(source, "required")
    assert "__LEADFLOW_CONSENT__" not in render_script(source, "implied").decode()


def test_the_readme_shows_the_snippet_the_browser_test_uses_with_the_current_version():
    text = snippet("https://collect.example.com")
    assert text in README.read_text()
    assert f"/t/lf.js?v={script_version(SCRIPT.read_text())}" in text
    assert snippet("http://127.0.0.1:1234/").count("http://127.0.0.1:1234\"") == 1


def test_a_browser_item_keeps_its_visitor_and_drops_its_clock():
    assert browser_item(PAGE, "f" * 32)["anonymousId"] == AID and "timestamp" not in browser_item(PAGE, "f" * 32)
    assert browser_item({"type": "page"}, "f" * 32)["anonymousId"] == "f" * 32  # the collector cookie's id
    for bad in ([], {"type": "page", "anonymousId": "<script>"}, {"type": "page", "anonymousId": 7}):
        with pytest.raises(ItemError):
            browser_item(bad, "f" * 32)


def test_a_browser_asserts_only_what_a_browser_may():
    hit = browser_interaction(view(), "203.0.113.0", "UA")
    assert (hit.event_id, hit.source, hit.ip, hit.user_agent) == ("lf:m1", "tracker", "203.0.113.0", "UA")
    for bad, reason in [(view(type="email.unsubscribed"), "email providers"), (view(url=None), "needs context.page"),
                        (view(url="javascript:alert(1)"), "absolute http(s)"), (view(url="/pricing"), "absolute"),
                        (view(title="x" * 3000), "title exceeds")]:
        with pytest.raises(ItemError, match=re.escape(reason)):
            browser_interaction(bad, None, None)


@pytest.mark.integration
def test_the_script_is_cacheable_and_revalidated(config):
    async def scenario(client):
        plain = await client.get("/t/lf.js")
        body = await plain.text()
        versioned = await client.get("/t/lf.js", params={"v": "1"})
        again = await client.get("/t/lf.js", headers={"If-None-Match": plain.headers["ETag"]})
        return plain, body, versioned, again

    plain, body, versioned, again = with_client(config.with_changes(tracking_consent="required"), scenario)
    assert plain.status == 200 and plain.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert 'var CONSENT_MODE = "required";' in body and len(body) < 12_000
    assert re.fullmatch(r'"[0-9a-f]{20}"', plain.headers["ETag"]) and versioned.headers["ETag"] == plain.headers["ETag"]
    assert plain.headers["Cache-Control"] == "public, max-age=3600"
    assert versioned.headers["Cache-Control"] == "public, max-age=604800"
    assert again.status == 304


@pytest.mark.integration
def test_hits_record_the_full_page_and_join_the_visitor_on_identify(config):
    identify = {"type": "identify", "anonymousId": AID, "messageId": "m2", "traits": {"email": "Ada@Example.com",
                                                                                     "company": "ACME"}}

    async def scenario(client):
        page = await client.post("/t/e", data=json.dumps(PAGE), headers=TEXT)
        both = await client.post("/t/e", data=json.dumps({"batch": [identify]}), headers=TEXT)
        return page.status, await page.json(), page.cookies[COOKIE].value, both.status, await both.json()

    assert with_client(config, scenario) == (200, {"accepted": 1, "errors": []}, AID, 200, {"accepted": 1, "errors": []})
    records = {r.type: r for _, r in asyncio.run(read_topic(config, "interactions", 3))}
    viewed = records["page.viewed"]
    assert viewed.url == "https://www.example.com/pricing?utm_campaign=spring&utm_source=news"
    assert (viewed.title, viewed.referrer, viewed.campaign) == ("Pricing", "https://www.example.com/", "spring")
    assert viewed.properties == {"utm_campaign": "spring", "utm_source": "news"}
    assert (viewed.prospect_key, viewed.anonymous_id, viewed.event_id) == (f"anon:{AID}", AID, "lf:m1")
    assert (viewed.source, viewed.ip, viewed.user_agent, viewed.occurred_at) == ("tracker", "203.0.113.0",
                                                                                 "Mozilla/5.0 test", NOW)
    linked = records["identity.linked"]
    assert linked.prospect_key == f"anon:{AID}" and linked.prospect_id == prospect_id_for("ada@example.com")
    assert records["profile.updated"].traits == {"company": "ACME"}


@pytest.mark.integration
def test_bad_hits_are_recorded_as_rejected_and_still_answered(config):
    bad_url = {**PAGE, "messageId": "m3", "context": {"page": {"url": "not a url"}}}
    forged = {"type": "track", "anonymousId": AID, "event": "email.unsubscribed", "email": "ada@example.com",
              "context": PAGE["context"]}

    async def scenario(client):
        mixed = await client.post("/t/e", data=json.dumps([PAGE, bad_url, forged]), headers=TEXT)
        garbage = await client.post("/t/e", data=b"{not json", headers=TEXT)
        return mixed.status, await mixed.json(), garbage.status, await garbage.json()

    mixed_status, mixed, garbage_status, garbage = with_client(config, scenario)
    assert mixed_status == 200 and mixed["accepted"] == 1 and [e["index"] for e in mixed["errors"]] == [1, 2]
    assert "absolute http(s) URL" in mixed["errors"][0]["reason"] and "email providers" in mixed["errors"][1]["reason"]
    assert garbage_status == 200 and garbage["accepted"] == 0 and "not JSON" in garbage["errors"][0]["reason"]
    reasons = sorted(r.reason for _, r in asyncio.run(read_topic(config, "rejected", 3)))
    assert [r.split(":")[0] for r in reasons] == ["invalid_item", "invalid_item", "not_json"]
    assert all(r.source == "tracker" for _, r in asyncio.run(read_topic(config, "rejected", 3)))
    assert [r.url for _, r in asyncio.run(read_topic(config, "interactions", 1))] == [PAGE["context"]["page"]["url"]]


@pytest.mark.integration
def test_dnt_gpc_and_missing_consent_record_nothing(config):
    config = config.with_changes(tracking_consent="required")

    async def scenario(client):
        statuses = [(await client.post("/t/e", data=json.dumps(PAGE), headers={**TEXT, **extra})).status
                    for extra in ({"DNT": "1"}, {"Sec-GPC": "1"}, {})]
        consented = await client.post("/t/e?consent=1", data=json.dumps({**PAGE, "messageId": "ok"}), headers=TEXT)
        return statuses, consented.status

    assert with_client(config, scenario) == ([204, 204, 204], 200)
    assert [r.event_id for _, r in asyncio.run(read_topic(config, "interactions", 2, timeout_s=3))] == ["lf:ok"]


@pytest.mark.integration
def test_cors_applies_the_forms_allow_list_to_tracker_hits(config):
    config = config.with_changes(cors_origins=("https://www.example.com",))

    async def scenario(client):
        ok = await client.post("/t/e", data=json.dumps(PAGE), headers={**TEXT, "Origin": "https://www.example.com"})
        denied = await client.post("/t/e", data=json.dumps(PAGE), headers={**TEXT, "Origin": "https://evil.example"})
        preflight = await client.options("/t/e", headers={"Origin": "https://www.example.com",
                                                          "Access-Control-Request-Method": "POST"})
        return ok.status, ok.headers.get("Access-Control-Allow-Origin"), denied.status, preflight.status

    assert with_client(config, scenario) == (200, "https://www.example.com", 403, 204)
