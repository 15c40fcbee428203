"""Fuzz benchmark: hostile inputs against every collector endpoint, over real HTTP, with a broker behind it.

The collector faces the internet. This sends generated hostile requests (bench/hostile_inputs.py:
deep nesting, huge numbers, control characters, invalid UTF-8, wrong types, strings at the limits,
malformed gzip, far-future times) to the pixel, clicks, the tracker, forms, the events API (every
path), CRM feedback and each email webhook, with valid authentication and without, and counts the
answers. A 5xx is a bug: the script exits 1 and prints the inputs that caused them.

    .venv/bin/python bench/hostile.py                 # 100,000 inputs
    .venv/bin/python bench/hostile.py --smoke         # 300 inputs, seconds (the tests run this)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: E402

from bench.embedded_stack import BENCH_SECRETS, embedded_kafka  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from bench.hostile_inputs import Case, Secrets, cases  # noqa: E402
from connectors.collector.server import create_app  # noqa: E402
from connectors.collector.webhooks.ses import string_to_sign  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from tests.sns_certificates import sns_signing_certificate  # noqa: E402

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses"
MAILGUN_KEY = "key-bench-0123456789"
POSTMARK_AUTH = "postmark:bench-password"
NOW_MS = 1_767_000_000_000  # the collector's clock: fixed, so Mailgun's signed timestamps stay fresh


def signers(workdir: Path) -> tuple[str, Path, Secrets]:
    """A SendGrid key pair and an SNS certificate, and the Secrets that sign with them."""
    sendgrid_key = ec.generate_private_key(ec.SECP256R1())
    public = sendgrid_key.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    cert_file = workdir / "sns.pem"
    sns_key = sns_signing_certificate(cert_file)

    def sign_sendgrid(data: bytes) -> str:
        return base64.b64encode(sendgrid_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()

    def sign_sns(envelope: dict) -> dict:
        algorithm = hashes.SHA1() if envelope.get("SignatureVersion") == "1" else hashes.SHA256()
        signature = sns_key.sign(string_to_sign(envelope), padding.PKCS1v15(), algorithm)
        return {**envelope, "Signature": base64.b64encode(signature).decode()}

    secrets = Secrets(write_key=BENCH_SECRETS["write_key"], crm_token=BENCH_SECRETS["crm_feedback_token"],
                      mailgun_key=MAILGUN_KEY, postmark_auth=POSTMARK_AUTH, topic_arn=TOPIC_ARN,
                      sendgrid_sign=sign_sendgrid, sns_sign=sign_sns)
    return base64.b64encode(public).decode(), cert_file, secrets


def describe(case: Case) -> str:
    body = case.body or b""
    shown = body[:100].decode("utf-8", "backslashreplace").encode("unicode_escape").decode()
    return f"{case.method} {case.path[:100].encode('unicode_escape').decode()} [{case.label}] " \
           f"{len(body):,} bytes: {shown}{'...' if len(body) > 100 else ''}"


async def fire(session: aiohttp.ClientSession, base: str, case: Case) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.request(case.method, base + case.path, data=case.body, headers=case.headers,
                               allow_redirects=False) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def run(count: int, seed: int, concurrency: int) -> int:
    with tempfile.TemporaryDirectory(prefix="leadflow-hostile-") as tmp:
        sendgrid_key, cert_file, secrets = signers(Path(tmp))
        with embedded_kafka(sendgrid_public_key=sendgrid_key, mailgun_signing_key=MAILGUN_KEY,
                            postmark_basic_auth=POSTMARK_AUTH, ses_topic_arns=(TOPIC_ARN,), sns_cert_file=cert_file,
                            form_redirect_hosts=("www.example.com",)) as config:
            server = TestServer(create_app(config, Codec(), clock=lambda: NOW_MS))
            await server.start_server()
            try:
                return await attack(str(server.make_url("")).rstrip("/"), count, seed, concurrency, secrets)
            finally:
                await server.close()


async def attack(base: str, count: int, seed: int, concurrency: int, secrets: Secrets) -> int:
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    slowest: tuple[float, str] = (0.0, "")
    sent = 0
    generated = cases(seed, count, secrets)
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency),
                                     skip_auto_headers=("Content-Type",)) as session:
        async def worker() -> None:
            nonlocal sent, slowest
            for case in generated:  # one shared generator: each case is taken by exactly one worker
                try:
                    status, seconds = await fire(session, base, case)
                except (aiohttp.ClientError, ValueError, UnicodeError) as exc:  # a request the client cannot send
                    statuses["not sent"] += 1
                    if len(errors) < 5 and isinstance(exc, aiohttp.ServerDisconnectedError):
                        errors.append(f"disconnected: {describe(case)}")
                    continue
                except asyncio.TimeoutError:
                    statuses["timeout"] += 1
                    errors.append(f"timeout: {describe(case)}")
                    continue
                sent += 1
                statuses[f"{status // 100}xx"] += 1
                if status >= 500 and len(errors) < 20:
                    errors.append(f"{status}: {describe(case)}")
                if seconds > slowest[0]:
                    slowest = (seconds, describe(case))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(f"hostile inputs tried  {sent:,} (seed {seed}, {elapsed:.1f} s, {sent / elapsed:,.0f} req/s)")
    for name in ("2xx", "3xx", "4xx", "5xx"):
        print(f"{name:<21} {statuses[name]:,}")
    if statuses["not sent"] or statuses["timeout"]:
        print(f"not sent (client refused) {statuses['not sent']:,}, timeouts {statuses['timeout']:,}")
    print(f"slowest response      {slowest[0] * 1000:,.1f} ms: {slowest[1]}")
    for line in errors:
        print("  " + line)
    return 1 if statuses["5xx"] or statuses["timeout"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="hostile requests to send")
    parser.add_argument("--seed", type=int, default=14, help="the generator's seed (runs are reproducible)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    add_smoke_flag(parser)
    args = parser.parse_args()
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # each 5xx is counted and its input printed below
    logging.getLogger("leadflow").setLevel(logging.ERROR)
    count = 300 if args.smoke else args.count
    return asyncio.run(run(count, args.seed, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
