"""The webhook target against a local HTTP server that fails, throttles and recovers, through the real broker."""

import asyncio
import json
import time

import pytest
from aiohttp import web

from connectors.crm.sink import CrmSink
from connectors.crm.webhook import SIGNATURE_HEADER, retry_after_s, signature, verify
from leadflow.process import free_ports
from schemas.codec import Codec
from tests.connectors.crm.test_sink import dead_letters, lead, produce

SECRET = "whsec_test_0123456789abcdef"


def test_signatures_verify_only_with_the_key_the_body_and_a_fresh_time():
    header = signature(SECRET, b'{"a":1}', 1_000)
    assert verify(SECRET, header, b'{"a":1}', now=1_010)
    assert not verify(SECRET, header, b'{"a":2}', now=1_010)
    assert not verify("another-secret-0123456789", header, b'{"a":1}', now=1_010)
    assert not verify(SECRET, header, b'{"a":1}', now=2_000)  # a replay, too late
    assert not verify(SECRET, "v1=abc", b'{"a":1}', now=1_000)


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    assert retry_after_s("3", now=0) == 3.0
    assert retry_after_s("Thu, 01 Jan 1970 00:00:30 GMT", now=10) == 20.0
    assert retry_after_s("86400", now=0) == 120.0
    assert retry_after_s("soon", now=0) is None and retry_after_s(None, now=0) is None


class Receiver:
    """A CRM endpoint: 'flaky' fails once with 500, then throttles with 429 + Retry-After: 1, then recovers;
    'refused' is always 422; 'down' always 503."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, str, int]] = []  # (time, prospect, idempotency key, status)
        self.bodies: dict[str, dict] = {}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, request.headers.get(SIGNATURE_HEADER, ""), body, time.time()):
            return web.Response(status=401)
        event = json.loads(body)
        prospect, key = event["prospect_id"], request.headers["Idempotency-Key"]
        seen = sum(1 for _, p, _, _ in self.requests if p == prospect)
        status, headers = 200, {}
        if prospect == "flaky" and seen == 0:
            status = 500
        elif prospect == "flaky" and seen == 1:
            status, headers = 429, {"Retry-After": "1"}
        elif prospect == "refused":
            status = 422
        elif prospect == "down":
            status = 503
        self.requests.append((time.monotonic(), prospect, key, status))
        if status == 200:
            self.bodies.setdefault(key, event)
        return web.json_response({}, status=status, headers=headers)


@pytest.mark.integration
def test_the_webhook_target_retries_honours_retry_after_and_dead_letters_what_never_succeeds(config):
    receiver = Receiver()
    [port] = free_ports(1)
    config = config.with_changes(target="webhook", webhook_url=f"http://127.0.0.1:{port}/crm",
                                 webhook_secret=SECRET, webhook_max_attempts=3, crm_dsn=None)
    events = [lead("ok", 1, 60), lead("flaky", 1, 60), lead("flaky", 2, 70), lead("refused", 1, 60),
              lead("down", 1, 60), lead("ok", 2, 75)]

    async def main():
        app = web.Application()
        app.router.add_post("/crm", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop = asyncio.Event()
        try:
            await produce(config, events)
            task = asyncio.create_task(CrmSink(config, Codec()).run(stop))
            deadline = asyncio.get_running_loop().time() + 30
            while asyncio.get_running_loop().time() < deadline:
                assert not task.done(), task.exception()
                if len(receiver.bodies) == 4 and len(await asyncio.to_thread(dead_letters, config)) == 2:
                    break
                await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(task, 10)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert sorted(receiver.bodies) == ["flaky-v1", "flaky-v2", "ok-v1", "ok-v2"]  # each delivered, keyed by event
    assert receiver.bodies["ok-v2"]["schema"] == "LeadEvent" and receiver.bodies["ok-v2"]["score"]["total"] == 75
    flaky = [(at, key, status) for at, p, key, status in receiver.requests if p == "flaky"]
    assert [(key, status) for _, key, status in flaky] == [("flaky-v1", 500), ("flaky-v1", 429), ("flaky-v1", 200),
                                                           ("flaky-v2", 200)]  # in order, the 2nd waited
    assert flaky[2][0] - flaky[1][0] >= 0.95  # Retry-After: 1 was honoured
    letters = {e.letter.source_offset: e.letter for e in dead_letters(config)}
    by_prospect = {l.key.decode(): l for l in letters.values()}
    assert by_prospect["refused"].attempts == 1 and "HTTP 422" in by_prospect["refused"].error
    assert by_prospect["down"].attempts == 3 and "HTTP 503" in by_prospect["down"].error
    assert all(l.target == "webhook" for l in letters.values())


@pytest.mark.parametrize("header", ["t=1767000000,v1=é", "t=1767000000,v1=\udcff", "t=١٧٦٧٠٠٠٠٠٠,v1=ab", "t=,v1=",
                                    "", "garbage", "t=1767000000", "t=99999999999999999999999,v1=ab", None, b"t=1"])
def test_verify_is_false_for_any_malformed_header(header):
    assert verify("s" * 16, header, b"{}", 1_767_000_000) is False
