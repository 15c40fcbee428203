"""Replay defences: timestamp windows, Mailgun's unambiguous split and host-wide token ledger, SNS certificates."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from connectors.collector.webhooks import mailgun, sendgrid
from connectors.collector.webhooks.common import Unauthorized
from connectors.collector.webhooks.replay import Replayed, TokenLedger
from connectors.collector.webhooks.ses import CACHED_CERTIFICATES, SnsVerifier, string_to_sign
from leadflow.config import Config
from tests.connectors.collector.client import NOW, with_client
from tests.connectors.collector.test_rejections import outage_config
from tests.connectors.collector.webhooks.payloads import MAILGUN, dumps

NOW_S = NOW / 1000
KEY = "key-replay-test-0123456789"
HOSTS = Config().collector.sns_cert_hosts


def mailgun_signature(timestamp: str, token: str, key: str = KEY) -> dict:
    return {"timestamp": timestamp, "token": token,
            "signature": hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()}


def test_sendgrid_refuses_stale_and_future_timestamps_with_the_reason() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    body = b"[]"

    def signed(timestamp: int) -> tuple[str, str]:
        signature = key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode(), str(timestamp)

    sendgrid.verify(key.public_key(), *signed(int(NOW_S) - 60), body, NOW_S, 600)
    for timestamp, word in ((int(NOW_S) - 3600, "old"), (int(NOW_S) + 3600, "in the future")):
        with pytest.raises(Replayed, match=f"3600s away from now, {word}"):
            sendgrid.verify(key.public_key(), *signed(timestamp), body, NOW_S, 600)
    with pytest.raises(Unauthorized, match="whole epoch seconds"):
        sendgrid.verify(key.public_key(), signed(int(NOW_S))[0], "1e3", body, NOW_S, 600)


def test_a_mailgun_token_starting_with_e0_cannot_be_re_split_into_a_new_pair(tmp_path) -> None:
    ledger = TokenLedger(tmp_path, 600)
    timestamp, token = str(int(NOW_S)), "e0" + "a" * 48
    original = mailgun_signature(timestamp, token)
    mailgun.verify(KEY, original, NOW_S, ledger, 600)
    forged = {**original, "timestamp": timestamp + "e0", "token": token[2:]}  # same bytes signed, same signature
    with pytest.raises(Unauthorized):
        mailgun.verify(KEY, forged, NOW_S, ledger, 600)
    with pytest.raises(Unauthorized, match="50 letters and digits"):
        mailgun.verify(KEY, mailgun_signature(timestamp, "short"), NOW_S, ledger, 600)
    with pytest.raises(Replayed, match="token already used"):
        mailgun.verify(KEY, original, NOW_S, ledger, 600)


def test_the_token_ledger_is_shared_by_every_process_on_the_host(tmp_path) -> None:
    first, second = TokenLedger(tmp_path, 600), TokenLedger(tmp_path, 600)
    assert first.first_use("t" * 50, NOW_S, NOW_S) is True
    assert second.first_use("t" * 50, NOW_S, NOW_S) is False
    assert second.first_use("t" * 50, NOW_S, NOW_S + 2000) is True  # expired with its window: not a replay
    assert oct((tmp_path / "replay").stat().st_mode & 0o777) == "0o700"


def test_two_collector_apps_sharing_a_data_dir_refuse_each_others_mailgun_tokens(tmp_path) -> None:
    config = outage_config(tmp_path, mailgun_signing_key=KEY)
    body = dumps({"signature": mailgun_signature(str(int(NOW_S)), hashlib.sha256(b"x").hexdigest()[:50]),
                  "event-data": MAILGUN["accepted"]})  # ignored type: nothing to publish, verification is all

    def post(index: int):
        async def scenario(client):
            response = await client.post("/v1/webhooks/mailgun", data=body)
            return response.status, await response.json()
        return with_client(config, scenario, index=index)

    assert post(0)[0] == 200
    status, answer = post(1)
    assert status == 406 and answer["error"] == "token already used"


def certificate(key: rsa.RSAPrivateKey, common_name: str, san: list[str] | None = None) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def envelope(key: rsa.RSAPrivateKey, cert_url: str, at: float = NOW_S) -> dict:
    stamp = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    doc = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
           "Message": json.dumps({"eventType": "Send"}), "Timestamp": stamp, "SignatureVersion": "2",
           "SigningCertURL": cert_url}
    doc["Signature"] = base64.b64encode(key.sign(string_to_sign(doc), padding.PKCS1v15(), hashes.SHA256())).decode()
    return doc


def test_only_real_sns_hosts_may_serve_certificates() -> None:
    sns = SnsVerifier(HOSTS, None)
    for host in ("sns.us-east-1.amazonaws.com", "sns.eu-west-2.amazonaws.com", "sns.us-gov-west-1.amazonaws.com",
                 "sns.cn-north-1.amazonaws.com.cn", "sns.ap-southeast-3.amazonaws.com"):
        assert sns.allowed(f"https://{host}/SimpleNotificationService-ab.pem"), host
    for url in ("https://sns.s3.amazonaws.com/SimpleNotificationService-ab.pem", "https://sns.amazonaws.com.evil.io/",
                "https://evil-sns.us-east-1.amazonaws.com/", "https://sns.us-east-1.amazonaws.com:8443/x.pem",
                "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-ab.pem",
                "https://[", "https://sns.us-east-1.amazonaws.com:99999/x.pem", "https://sns.us-east-1.amazonaws.com:x/"):
        assert not sns.allowed(url), url  # the last three raised ValueError (a 5xx for a signed-looking envelope)


def test_certificates_are_cached_by_host_and_path_in_a_bounded_lru_and_must_name_sns() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good, evil = certificate(key, "sns.amazonaws.com"), certificate(key, "attacker.example.com")  # same key
    cn_region = certificate(key, "other", san=["sns.cn-north-1.amazonaws.com.cn"])
    fetched: list[str] = []

    async def get(url: str) -> bytes:
        fetched.append(url)
        return cn_region if ".cn/" in url else good

    sns = SnsVerifier(HOSTS, None, get, max_age_s=600)
    base = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0a.pem"

    async def scenario() -> None:
        for query in ("", "?a=1", "?a=2", "?b=3"):
            await sns.verify(envelope(key, base + query), NOW_S)
        assert fetched == [base]  # the query changes nothing: one fetch, one cache entry
        for n in range(CACHED_CERTIFICATES + 8):
            await sns.verify(envelope(key, f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n:x}f.pem"),
                             NOW_S)
        assert len(sns._cache) == CACHED_CERTIFICATES
        await sns.verify(envelope(key, "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem"),
                         NOW_S)
        with pytest.raises(Unauthorized, match="not an SNS certificate"):
            await sns.verify(envelope(key, "https://sns.us-east-1.amazonaws.com/evil/cert.pem"), NOW_S)
        for at, word in ((NOW_S - 3600, "old"), (NOW_S + 3600, "in the future")):
            with pytest.raises(Replayed, match=word):
                await sns.verify(envelope(key, base, at=at), NOW_S)

    async def evil_get(url: str) -> bytes:
        return evil

    asyncio.run(scenario())
    sns_evil = SnsVerifier(HOSTS, None, evil_get)
    with pytest.raises(Unauthorized, match="not issued to SNS"):
        asyncio.run(sns_evil.verify(envelope(key, base), NOW_S))
