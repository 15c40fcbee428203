"""Property-based fuzzing of every collector endpoint: malformed input never yields a 5xx."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.collector.server import create_app
from leadflow.config import Config
from leadflow.process import free_port
from leadflow.topics import create_topics
from schemas.codec import Codec
from tests.conftest import LINK_SECRET, WRITE_KEY

pytestmark = pytest.mark.integration
EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner,
                                                                                       max_size=5), max_leaves=20)
FIELDS = st.dictionaries(st.sampled_from(["email", "type", "event", "anonymousId", "messageId", "timestamp",
                                          "properties", "traits", "context", "batch", "_hp", "_ts", "_redirect",
                                          "_aid", "e", "u", "p", "m", "s", "x", "RecordType", "signature",
                                          "event-data", "Type", "TopicArn", "Message"]) | st.text(max_size=10),
                         JSON_VALUES, max_size=8)
BODIES = st.one_of(st.binary(max_size=500), FIELDS.map(lambda d: json.dumps(d).encode()),
                   st.lists(FIELDS, max_size=4).map(lambda items: json.dumps({"batch": items}).encode()))
HEADERS = st.dictionaries(st.sampled_from(["Content-Type", "Authorization", "Origin", "DNT", "Cookie",
                                           "X-Twilio-Email-Event-Webhook-Signature",
                                           "X-Twilio-Email-Event-Webhook-Timestamp", "X-Forwarded-For"]),
                          st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60), max_size=4)
QUERIES = st.dictionaries(st.sampled_from(["e", "u", "r", "t", "c", "m", "p", "s", "x", "consent"]) | st.text(max_size=5),
                          st.text(max_size=80), max_size=6)


@pytest.fixture(scope="module")
def collector(infra, tmp_path_factory):
    config = Config().with_changes(
        bootstrap=infra.bootstrap, topic_prefix=f"fz{uuid.uuid4().hex[:8]}", partitions=1,
        data_dir=tmp_path_factory.mktemp("fuzz"), write_key=WRITE_KEY, link_secret=LINK_SECRET,
        sendgrid_public_key="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        mailgun_signing_key="key-fuzz", postmark_basic_auth="u:p", ses_topic_arns=("arn:aws:sns:us-east-1:1:t",),
        form_redirect_hosts=("www.example.com",), **infra.kafka_settings)
    create_topics(config)
    port = free_port()
    loop = asyncio.new_event_loop()
    async def no_certificate(url: str) -> bytes:
        return b""

    runner = web.AppRunner(create_app(config, Codec(), http_get=no_certificate))
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(15)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def status_of(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@EXAMPLES
@given(body=BODIES, headers=HEADERS, authorized=st.booleans())
def test_events_api(collector, body, headers, authorized):
    if authorized:
        headers = {**headers, "Authorization": f"Bearer {WRITE_KEY}"}
    assert status_of("POST", f"{collector}/v1/events", body, headers) < 500


@EXAMPLES
@given(body=BODIES, headers=HEADERS, form_id=st.text(max_size=20),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))
def test_forms(collector, body, headers, form_id, content_type):
    headers = {**headers, "Content-Type": content_type} if content_type else headers
    path = urllib.parse.quote(form_id or "f", safe="")
    assert status_of("POST", f"{collector}/v1/forms/{path}", body, headers) < 500


@EXAMPLES
@given(query=QUERIES, headers=HEADERS, path=st.sampled_from(["/t/px.gif", "/t/c"]))
def test_pixel_and_clicks(collector, query, headers, path):
    assert status_of("GET", f"{collector}{path}?{urllib.parse.urlencode(query)}", None, headers) < 500


@EXAMPLES
@given(body=BODIES, headers=HEADERS, vendor=st.sampled_from(["sendgrid", "mailgun", "postmark", "ses"]))
def test_webhooks(collector, body, headers, vendor):
    assert status_of("POST", f"{collector}/v1/webhooks/{vendor}", body, headers) < 500
