"""The events API as Segment's and RudderStack's HTTP APIs define it: paths, auth, compression, answers."""

import asyncio
import base64
import gzip
import json
import zlib

import pytest

from schemas.records import Interaction
from streams.core.identity import prospect_id_for
from tests.conftest import WRITE_KEY
from tests.connectors.collector.client import AUTH, NOW, with_client
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


def post(config, path, body: bytes, headers):
    async def scenario(client):
        response = await client.post(path, data=body, headers={**JSON, **headers})
        return response.status, await response.json()

    return with_client(config, scenario)


def test_every_call_type_has_its_path_and_a_segment_style_answer(config):
    calls = {
        "identify": {"userId": "u1", "messageId": "i1", "traits": {"email": "ada@example.com", "title": "CTO"}},
        "track": {"userId": "u1", "event": "Demo Requested", "messageId": "t1"},
        "page": {"anonymousId": "a1", "name": "Pricing", "messageId": "p1",
                 "properties": {"url": "https://x.io/pricing"}},
        "screen": {"userId": "u1", "name": "Settings", "messageId": "s1"},
        "group": {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}, "messageId": "g1"},
        "alias": {"previousId": "a1", "userId": "u1", "messageId": "al1"},
    }

    async def scenario(client):
        replies = []
        for call, item in calls.items():
            response = await client.post(f"/v1/{call}", json=item, headers=AUTH)
            replies.append((response.status, await response.json()))
        return replies

    replies = with_client(config, scenario)
    assert replies == [(200, {"success": True, "accepted": 1, "errors": []})] * len(calls)
    records = {r.event_id: r for _, r in asyncio.run(read_topic(config, "interactions", 8))}
    assert records["api:i1"].traits == {"job_title": "CTO", "user_id": "u1"}
    assert records["api:i1#user"].prospect_key == "user:u1"
    assert records["api:i1#user"].prospect_id == prospect_id_for("ada@example.com")
    assert (records["api:t1"].prospect_key, records["api:t1"].type, records["api:t1"].event) == \
        ("user:u1", "event.tracked", "Demo Requested")
    assert records["api:p1"].title == "Pricing" and records["api:s1"].properties == {"screen": "Settings"}
    assert records["api:g1"].traits == {"company": "Acme", "group_id": "g1"}
    assert (records["api:al1"].prospect_key, records["api:al1"].prospect_id) == ("anon:a1", "user:u1")


def test_batch_with_gzip_body_sent_at_and_shared_context(config):
    batch = {"batch": [{"type": "track", "userId": "u2", "event": "Email Opened", "messageId": "b1",
                        "timestamp": "2025-12-29T09:19:55Z"}],
             "sentAt": "2025-12-29T09:20:00Z", "context": {"ip": "198.51.100.23"}}
    status, reply = post(config, "/v1/batch", gzip.compress(json.dumps(batch).encode()),
                         {**AUTH, "Content-Encoding": "gzip"})
    assert (status, reply) == (200, {"success": True, "accepted": 1, "errors": []})
    [(_, record)] = asyncio.run(read_topic(config, "interactions", 1))
    assert isinstance(record, Interaction) and record.type == "email.opened" and record.event == "Email Opened"
    assert record.occurred_at == NOW - 5000 and record.ip == "198.51.100.0"


def test_deflate_and_write_key_in_the_body(config):
    body = {"batch": [{"type": "page", "anonymousId": "a", "messageId": "d1"}], "writeKey": WRITE_KEY}
    status, reply = post(config, "/v1/batch", zlib.compress(json.dumps(body).encode()),
                         {"Content-Encoding": "deflate"})
    assert status == 200 and reply["accepted"] == 1
    status, reply = post(config, "/v1/batch", json.dumps({**body, "writeKey": "wrong"}).encode(), {})
    assert status == 401 and reply["code"] == "unauthorized"


@pytest.mark.parametrize("body, encoding, status, code, reason", [
    (b"\x1f\x8b\x08\x00garbage", "gzip", 400, "bad_encoding", "not valid gzip"),
    (gzip.compress(b'{"batch": []}')[:-12], "gzip", 400, "bad_encoding", "truncated"),
    # 100 MB of spaces inflate from ~100 KB: refused after the first 500 KB, never held in memory
    (gzip.compress(b"[" + b" " * 100_000_000 + b"]"), "gzip", 413, "too_large", "once inflated"),
    (b"{}", "br", 415, "bad_encoding", "not supported"),
    (b"{not json", None, 400, "not_json", "not JSON"),
    (b"[" * 100_000, None, 400, "not_json", "not JSON"),
])
def test_bad_bodies_get_a_reason(config, body, encoding, status, code, reason):
    headers = {**AUTH, **({"Content-Encoding": encoding} if encoding else {})}
    got_status, reply = post(config, "/v1/batch", body, headers)
    assert got_status == status and reply["code"] == code and reason in reply["message"], reply
    assert reply["success"] is False
    [(_, rejected)] = asyncio.run(read_topic(config, "rejected", 1))
    assert rejected.reason.startswith(code)


def test_a_batch_of_only_bad_calls_is_a_400_that_names_the_first_reason(config):
    status, reply = post(config, "/v1/batch", json.dumps({"batch": [{"type": "track", "userId": "u"}]}).encode(),
                         AUTH)
    assert status == 400 and reply["code"] == "invalid_request" and "event name" in reply["message"]
    assert reply["errors"] == [{"index": 0, "reason": reply["message"]}]


def test_forms_and_webhooks_read_compressed_bodies_the_same_way(config):
    form = gzip.compress(b"email=ada%40example.com&company=Acme")

    async def scenario(client):
        posted = await client.post("/v1/forms/contact", data=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
        broken = await client.post("/v1/forms/contact", data=b"\x1f\x8bxx", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
        hook = await client.post("/v1/webhooks/postmark", data=b"\x1f\x8bxx", headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip",
            "Authorization": "Basic " + base64.b64encode(b"pm:pm-secret-0123456789").decode()})
        return posted.status, (broken.status, await broken.json()), (hook.status, await hook.json())

    posted, (broken, reply), (hook, hook_reply) = with_client(
        config.with_changes(postmark_basic_auth="pm:pm-secret-0123456789"), scenario)
    assert posted == 202 and broken == 400 and "not valid gzip" in reply["error"]
    assert hook == 400 and "not valid gzip" in hook_reply["error"]
