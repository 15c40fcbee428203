"""Slow clients are cut off at the read deadline while everyone else is served (issue 14)."""

import asyncio
import time

import aiohttp
import pytest

from connectors.collector.connections import GuardedRunner
from connectors.collector.server import create_app
from schemas.codec import Codec
from tests.connectors.collector.client import NOW

pytestmark = pytest.mark.integration
READ_TIMEOUT = 1.5
KEEPALIVE = 2.5


async def started(config):
    runner = GuardedRunner(create_app(config, Codec(), clock=lambda: NOW), read_timeout_s=READ_TIMEOUT,
                           keepalive_timeout_s=KEEPALIVE, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def read_all(reader: asyncio.StreamReader) -> bytes:
    data = b""
    try:
        while chunk := await reader.read(1024):
            data += chunk
    except ConnectionError:
        pass
    return data


async def trickle(port: int, request: bytes, interval: float) -> tuple[bytes, float]:
    """Send ``request`` one byte per ``interval``; (what the server answered, seconds until it closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    begin = time.monotonic()
    answer = asyncio.create_task(read_all(reader))
    try:
        for byte in request:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(interval)
    except ConnectionError:
        pass
    data = await asyncio.wait_for(answer, timeout=10)
    elapsed = time.monotonic() - begin
    writer.transport.abort()
    return data, elapsed


def test_a_client_trickling_headers_is_cut_off_while_others_are_served(config):
    async def main():
        runner, port = await started(config)
        try:
            slow = asyncio.create_task(trickle(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100,
                                               0.25))
            served = []
            async with aiohttp.ClientSession() as session:
                while not slow.done():
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        served.append(response.status)
                    await asyncio.sleep(0.2)
            return await slow, served
        finally:
            await runner.cleanup()

    (answer, elapsed), served = asyncio.run(main())
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert READ_TIMEOUT - 0.1 < elapsed < READ_TIMEOUT + 1.5  # cut off although it kept sending
    assert len(served) >= 4 and set(served) == {200}


def test_a_silent_connection_and_a_trickled_body_are_closed_and_idle_keepalive_is_bounded(config):
    async def main():
        runner, port = await started(config)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)  # connects, says nothing
            begin = time.monotonic()
            silent = await asyncio.wait_for(reader.read(), timeout=10), time.monotonic() - begin
            writer.close()
            head = (b"POST /v1/forms/f1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: 200\r\n\r\n")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            begin = time.monotonic()
            for _ in range(40):
                writer.write(b"e")
                await asyncio.sleep(0.1)
                if reader.at_eof():
                    break
            body = await asyncio.wait_for(reader.read(), timeout=10), time.monotonic() - begin
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            begin = time.monotonic()
            idle = await asyncio.wait_for(reader.read(), timeout=10), time.monotonic() - begin
            writer.close()
            return silent, body, idle
        finally:
            await runner.cleanup()

    (silent, silent_s), (body, body_s), (idle, idle_s) = asyncio.run(main())
    assert silent.startswith(b"HTTP/1.1 408") and READ_TIMEOUT - 0.1 < silent_s < READ_TIMEOUT + 1
    assert b"200 OK" not in body and body_s < READ_TIMEOUT + 1
    assert idle.startswith(b"HTTP/1.1 200") and KEEPALIVE - 0.1 < idle_s < KEEPALIVE + 2  # answered, then closed
