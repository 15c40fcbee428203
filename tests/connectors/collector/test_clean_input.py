"""Clean input over HTTP: control characters refused per field and per item, stripped from vendors' events,
hostile bodies answered 4xx, future event times refused (issue 14's findings, each against the real broker)."""

import asyncio
import base64
import hashlib
import hmac
import json

import pytest

from streams.core.identity import prospect_id_for
from tests.conftest import CRM_TOKEN
from tests.connectors.collector.client import AUTH, NOW, with_client
from tests.topic_reader import read_topic

MAILGUN_KEY = "key-hygiene-0123456789"
POSTMARK_AUTH = "postmark:hook-password-123"
RENDERED = str(NOW - 10_000)  # the form's `_ts`: rendered 10 s before the post, like a person


def requests(client, calls):
    async def run():
        out = []
        for method, path, kwargs in calls:
            response = await client.request(method, path, **kwargs)
            out.append((response.status, await response.text()))
        return out
    return run()


@pytest.mark.integration
def test_a_form_post_with_a_nul_is_refused_naming_the_field(config):
    async def scenario(client):
        return await requests(client, [
            ("POST", "/v1/forms/demo", dict(json={"email": "victim@corp.com", "company": "a\u0000", "_ts": RENDERED})),
            ("POST", "/v1/forms/demo", dict(data={"email": "victim@corp.com", "note": "\x1b]0;pwned\x07",
                                                  "_ts": RENDERED})),
            ("POST", "/v1/forms/demo", dict(json={"email": "victim\u0000@corp.com", "_ts": RENDERED})),
            ("POST", "/v1/forms/demo", dict(json={"email": "<script>@corp.com", "_ts": RENDERED})),
            ("POST", "/v1/forms/demo", dict(json={"email": "ok@corp.com", "company": "Zoë & Co \"Ltd\" 🚀",
                                                  "_ts": RENDERED})),
        ])

    results = with_client(config, scenario)
    assert [status for status, _ in results] == [400, 400, 400, 400, 202]
    assert "company" in results[0][1] and "U+0000" in results[0][1] and "note" in results[1][1]
    [(_, kept), _profile] = asyncio.run(read_topic(config, "interactions", 2))
    assert kept.email == "ok@corp.com" and kept.traits["company"] == "Zoë & Co \"Ltd\" 🚀"


@pytest.mark.integration
def test_events_api_refuses_control_characters_and_future_times_per_item(config):
    batch = {"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "v@corp.com", "company": "a\x00"}},
        {"type": "track", "userId": "u1", "event": "Demo\x1b[2J"},
        {"type": "track", "userId": "u1", "event": "Ok", "properties": {"k\x00": "v"}},
        {"type": "track", "userId": "u1", "event": "Late", "timestamp": "9999-12-31T23:59:59Z"},
        {"type": "track", "userId": "u1", "event": "Imported", "timestamp": "2015-03-01T00:00:00Z"},
    ]}

    async def scenario(client):
        response = await client.post("/v1/batch", json=batch, headers=AUTH)
        return response.status, await response.json()

    status, body = with_client(config, scenario)
    assert status == 200 and body["accepted"] == 1
    reasons = {e["index"]: e["reason"] for e in body["errors"]}
    assert "traits.company" in reasons[0] and "'event'" in reasons[1] and "properties key" in reasons[2]
    assert "in the future" in reasons[3]
    [(_, imported)] = asyncio.run(read_topic(config, "interactions", 1))
    assert imported.event == "Imported" and imported.occurred_at == 1_425_168_000_000


@pytest.mark.integration
def test_hostile_bodies_get_a_4xx_never_a_5xx(config):
    config = config.with_changes(mailgun_signing_key=MAILGUN_KEY, postmark_basic_auth=POSTMARK_AUTH,
                                 ses_topic_arns=("arn:aws:sns:us-east-1:1:t",), form_redirect_hosts=("a.io",))
    deep, huge = b"[" * 100_000, b'{"n": ' + b"9" * 5000 + b"}"
    postmark = {"Authorization": "Basic " + base64.b64encode(POSTMARK_AUTH.encode()).decode()}
    json_type = {"Content-Type": "application/json"}
    calls = []
    for body in (deep, huge):
        calls += [("POST", "/v1/forms/demo", dict(data=body, headers=json_type)),
                  ("POST", "/v1/batch", dict(data=body, headers={**AUTH, **json_type})),
                  ("POST", "/v1/track", dict(data=body, headers={**AUTH, **json_type})),
                  ("POST", "/v1/crm/feedback", dict(data=body, headers={"Authorization": f"Bearer {CRM_TOKEN}"})),
                  ("POST", "/v1/webhooks/mailgun", dict(data=body)),
                  ("POST", "/v1/webhooks/ses", dict(data=body)),
                  ("POST", "/v1/webhooks/postmark", dict(data=body, headers=postmark))]
    calls += [("POST", "/v1/forms/demo", dict(data={"email": "a@b.io", "_aid": "abc\n"}, headers={"Accept": "*/*"})),
              ("POST", "/v1/forms/demo", dict(data=b"email=a%40b.io&_aid=abc%0A",
                                              headers={"Content-Type": "application/x-www-form-urlencoded"}))]

    async def scenario(client):
        return await requests(client, calls)

    results = with_client(config, scenario)
    statuses = [status for status, _ in results]
    assert all(400 <= status < 500 for status in statuses[:14]), list(zip(statuses, [c[1] for c in calls]))
    assert statuses[14:] == [202, 202]


@pytest.mark.integration
def test_webhooks_strip_control_characters_and_reject_future_events_without_failing_the_batch(config):
    config = config.with_changes(mailgun_signing_key=MAILGUN_KEY)

    def signed(event):
        timestamp, token = str(NOW // 1000), hashlib.sha256(event["id"].encode()).hexdigest()[:50]
        signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
        return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                           "event-data": event})

    def event(event_id, when, **extra):
        return {"id": event_id, "event": "failed", "severity": "permanent", "timestamp": when,
                "recipient": "ann@example.com", **extra}

    async def scenario(client):
        return await requests(client, [
            ("POST", "/v1/webhooks/mailgun", dict(data=signed(event(
                "mg-1", NOW / 1000, reason="mailbox \x00full\x1b[2J", url="https://a.io/\x9bx")))),
            ("POST", "/v1/webhooks/mailgun", dict(data=signed(event("mg-2", 253402300799)))),
        ])

    results = with_client(config, scenario)
    assert [(s, json.loads(b)) for s, b in results] == [(200, {"accepted": 1, "ignored": 0, "invalid": 0}),
                                                         (200, {"accepted": 0, "ignored": 0, "invalid": 1})]
    [(_, bounced)] = asyncio.run(read_topic(config, "interactions", 1))
    assert bounced.properties["reason"] == "mailbox full[2J" and bounced.url == "https://a.io/x"
    rejected = [r for _, r in asyncio.run(read_topic(config, "rejected", 1))]
    assert any("in the future" in r.reason for r in rejected)


@pytest.mark.integration
def test_crm_feedback_refuses_future_verdicts_per_item(config):
    async def scenario(client):
        response = await client.post("/v1/crm/feedback", headers={"Authorization": f"Bearer {CRM_TOKEN}"}, json=[
            {"email": "ann@example.com", "verdict": "won", "occurred_at": "9999-12-31T23:59:59Z"},
            {"email": "ann@example.com", "verdict": "accepted", "owner": "al\x1bice"},
            {"email": "ann@example.com", "verdict": "contacted", "occurred_at": "2020-01-01T00:00:00Z"}])
        return response.status, await response.json()

    status, body = with_client(config, scenario)
    assert status == 202 and body["accepted"] == 1
    assert [e["index"] for e in body["errors"]] == [0, 1] and "in the future" in body["errors"][0]["reason"]
    [(key, verdict)] = asyncio.run(read_topic(config, "crm-feedback", 1))
    assert verdict.prospect_id == prospect_id_for("ann@example.com") and verdict.type == "contacted"


@pytest.mark.integration
def test_a_pixel_with_control_characters_still_answers_but_records_nothing(config):
    async def scenario(client):
        hit = await client.get("/t/px.gif?u=https%3A%2F%2Fa.io%2Fpricing%00x&t=Pricing")
        referred = await client.get("/t/px.gif", headers={"Referer": "https://a.io/docs\x85"})
        return hit.status, hit.content_type, referred.status

    assert with_client(config, scenario) == (200, "image/gif", 200)
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert rejected.reason.startswith("unclean: parameter 'u' contains the control character U+0000")
    [(_, kept)] = asyncio.run(read_topic(config, "interactions", 1))
    assert kept.url == "https://a.io/docs"  # the header is cleaned, like the user agent
