"""Webhook endpoints over HTTP with real signatures: pass, fail and replay, against the real broker."""

import asyncio
import base64
import datetime
import functools
import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from connectors.collector.webhooks.ses import http_get, string_to_sign
from tests.connectors.collector.client import NOW, with_client
from tests.connectors.collector.webhooks.payloads import MAILGUN, POSTMARK, SENDGRID, SES, dumps
from leadflow.process import free_port
from tests.sns_certificates import sns_signing_certificate
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:ses-events"
CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0000.pem"
SUBSCRIBE_URL = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SNS_NOW = datetime.datetime.fromtimestamp(NOW / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
POSTMARK_AUTH = "postmark:hook-password-123"
SAMPLES_NOW = 1_796_000_000_000  # 2026-11-29: after the vendors' sample payloads (events a day ahead are refused)


@pytest.fixture(scope="module")
def sendgrid_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def sns_signer(tmp_path_factory):
    path = tmp_path_factory.mktemp("sns") / "cert.pem"
    return sns_signing_certificate(path), path


@pytest.fixture
def hooks_config(config, sendgrid_key, sns_signer):
    der = sendgrid_key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return config.with_changes(sendgrid_public_key=base64.b64encode(der).decode(), mailgun_signing_key=MAILGUN_KEY,
                               postmark_basic_auth=POSTMARK_AUTH, ses_topic_arns=(TOPIC_ARN,),
                               sns_cert_file=sns_signer[1])


def sendgrid_headers(key, body: bytes, timestamp: str = "1767000000") -> dict:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}


def mailgun_body(event: dict, timestamp: int | None = None, token: str | None = None, key: str = MAILGUN_KEY) -> dict:
    timestamp = str(NOW // 1000 if timestamp is None else timestamp)
    token = token or hashlib.sha256(f"{event['id']}{time.time_ns()}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event}


def sns_envelope(key, message: str, version: str = "1", type_: str = "Notification", topic: str = TOPIC_ARN,
                 cert_url: str = CERT_URL, now_ms: int = NOW) -> dict:
    sent = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    envelope = {"Type": type_, "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topic,
                "Message": message, "Timestamp": sent, "SignatureVersion": version,
                "SigningCertURL": cert_url}
    if type_ == "SubscriptionConfirmation":
        envelope.update(Token="2336412f37fb687f5d51e6e2425dacbba", SubscribeURL=SUBSCRIBE_URL)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    envelope["Signature"] = base64.b64encode(key.sign(string_to_sign(envelope), padding.PKCS1v15(),
                                                      algorithm)).decode()
    return envelope


def post_all(config, requests, **kwargs):
    async def scenario(client):
        out = []
        for path, body, headers in requests:
            response = await client.post(path, data=body, headers=headers)
            out.append((response.status, await response.json()))
        return out

    return with_client(config, scenario, **kwargs)


def test_sendgrid_signed_batches_are_accepted_and_bad_signatures_refused(hooks_config, sendgrid_key):
    body = dumps(SENDGRID)
    other_key = ec.generate_private_key(ec.SECP256R1())
    results = post_all(hooks_config, [
        ("/v1/webhooks/sendgrid", body, sendgrid_headers(sendgrid_key, body)),
        ("/v1/webhooks/sendgrid", body, sendgrid_headers(sendgrid_key, body)),  # a vendor retry
        ("/v1/webhooks/sendgrid", body, sendgrid_headers(other_key, body)),
        ("/v1/webhooks/sendgrid", body + b" ", sendgrid_headers(sendgrid_key, body)),
        ("/v1/webhooks/sendgrid", body, {"Content-Type": "application/json"}),
    ])
    assert [status for status, _ in results] == [200, 200, 401, 401, 401]
    assert results[0][1] == {"accepted": 9, "ignored": 2, "invalid": 0}
    records = [r for _, r in asyncio.run(read_topic(hooks_config, "interactions", 18))]
    assert len(records) == 18 and len({r.event_id for r in records}) == 9  # the retry de-duplicates by event_id


def test_mailgun_signature_replay_and_staleness(hooks_config):
    fresh = mailgun_body(MAILGUN["opened"])
    results = post_all(hooks_config, [
        ("/v1/webhooks/mailgun", dumps(fresh), {"Content-Type": "application/json"}),
        ("/v1/webhooks/mailgun", dumps(fresh), {"Content-Type": "application/json"}),  # replayed token
        ("/v1/webhooks/mailgun", dumps(mailgun_body(MAILGUN["clicked"], timestamp=NOW // 1000 - 3600)), {}),
        ("/v1/webhooks/mailgun", dumps(mailgun_body(MAILGUN["clicked"], key="wrong-key")), {}),
        ("/v1/webhooks/mailgun", b'{"event-data": {}}', {}),
        ("/v1/webhooks/mailgun", dumps(mailgun_body(MAILGUN["accepted"])), {}),
    ])
    assert [status for status, _ in results] == [200, 406, 406, 401, 406, 200]
    assert "token already used" in results[1][1]["error"] and "away from now" in results[2][1]["error"]
    [(_, opened)] = asyncio.run(read_topic(hooks_config, "interactions", 1))
    assert opened.event_id == "mailgun:mg-open" and opened.source == "webhook.mailgun"


def test_postmark_needs_its_basic_auth(hooks_config):
    good = {"Authorization": "Basic " + base64.b64encode(POSTMARK_AUTH.encode()).decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"postmark:guess").decode()}
    results = post_all(hooks_config, [
        ("/v1/webhooks/postmark", dumps(POSTMARK["Click"]), good),
        ("/v1/webhooks/postmark", dumps(POSTMARK["Click"]), bad),
        ("/v1/webhooks/postmark", dumps(POSTMARK["Click"]), {}),
        ("/v1/webhooks/postmark", b"[]", good),
    ], clock=lambda: SAMPLES_NOW)
    assert [status for status, _ in results] == [200, 401, 401, 400]
    [(_, click)] = asyncio.run(read_topic(hooks_config, "interactions", 1))
    assert click.type == "email.clicked" and click.url == "https://example.com/pricing"


def test_ses_via_sns_verifies_both_signature_versions_topics_and_cert_hosts(hooks_config, sns_signer):
    key = sns_signer[0]
    fetched: list[str] = []
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bounce = json.dumps(SES["Bounce"])
    at_samples = functools.partial(sns_envelope, now_ms=SAMPLES_NOW)  # SNS stamps when it sends: the clock's now

    async def record(url: str) -> bytes:
        fetched.append(url)
        return b""

    results = post_all(hooks_config, [
        ("/v1/webhooks/ses", dumps(at_samples(key, bounce, "1")), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, json.dumps(SES["Click"]), "2")), {}),
        ("/v1/webhooks/ses", dumps(at_samples(other, bounce)), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, bounce, topic="arn:aws:sns:us-west-2:1:other")), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, bounce, cert_url="https://evil.example.com/c.pem")), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, bounce, cert_url=CERT_URL.replace("https", "http"))), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, "", type_="SubscriptionConfirmation")), {}),
        ("/v1/webhooks/ses", dumps(at_samples(key, "not json")), {}),
    ], http_get=record, clock=lambda: SAMPLES_NOW)
    assert [status for status, _ in results] == [200, 200, 403, 403, 403, 403, 200, 400]
    assert fetched == [SUBSCRIBE_URL] and results[6][1] == {"status": "subscribed"}
    records = [r for _, r in asyncio.run(read_topic(hooks_config, "interactions", 2))]
    assert sorted(r.type for r in records) == ["email.bounced", "email.clicked"]


def test_a_slow_certificate_host_delays_only_the_webhooks_that_wait_for_it(hooks_config, sns_signer):
    """The certificate is fetched with aiohttp, once for concurrent webhooks; meanwhile the collector answers."""
    key, cert_path = sns_signer
    hits: list[float] = []

    async def slow_cert(request: web.Request) -> web.Response:
        hits.append(time.monotonic())
        await asyncio.sleep(3)
        return web.Response(body=cert_path.read_bytes())

    port = free_port()

    async def via_local_host(url: str) -> bytes:  # the real client, pointed at the local host instead of SNS's
        return await http_get(f"http://127.0.0.1:{port}{urlsplit(url).path}")

    async def scenario(client):
        runner = web.AppRunner(web.Application())
        runner.app.router.add_get("/{name}", slow_cert)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            body = dumps(sns_envelope(key, json.dumps(SES["Bounce"])))
            webhooks = [asyncio.create_task(client.post("/v1/webhooks/ses", data=body)) for _ in range(2)]
            await asyncio.sleep(0.3)
            asked = time.monotonic()
            health, pixel = await client.get("/healthz"), await client.get("/t/px.gif?u=https://a.io/")
            answered = time.monotonic() - asked
            statuses = [(await response).status for response in webhooks]
            return health.status, pixel.status, answered, statuses
        finally:
            await runner.cleanup()

    health, pixel, answered, statuses = with_client(hooks_config.with_changes(sns_cert_file=None), scenario,
                                                    http_get=via_local_host)
    assert (health, pixel) == (200, 200) and answered < 0.5, f"the collector waited {answered:.2f}s for the cert host"
    assert statuses == [200, 200] and len(hits) == 1  # both webhooks verified with one fetch


def test_unconfigured_vendors_answer_404_with_the_setting_to_set(config):
    results = post_all(config, [(f"/v1/webhooks/{vendor}", b"[]", {}) for vendor in
                                ("sendgrid", "mailgun", "postmark", "ses")])
    assert [status for status, _ in results] == [404] * 4
    assert [r["error"].rsplit(" ", 1)[-1] for _, r in results] == [
        "LEADFLOW_SENDGRID_PUBLIC_KEY", "LEADFLOW_MAILGUN_SIGNING_KEY", "LEADFLOW_POSTMARK_BASIC_AUTH",
        "LEADFLOW_SES_TOPIC_ARNS"]
