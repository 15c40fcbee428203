"""Drive the collector app in-process over real HTTP (aiohttp's test server) against the real broker."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from connectors.collector.server import create_app
from schemas.codec import Codec
from tests.conftest import WRITE_KEY

NOW = 1_767_000_000_000
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}


def with_client(config, scenario: Callable[[TestClient], Awaitable[Any]], clock=lambda: NOW, **kwargs) -> Any:
    async def main():
        client = TestClient(TestServer(create_app(config, Codec(), clock=clock, **kwargs)))
        await client.start_server()
        try:
            return await scenario(client)
        finally:
            await client.close()

    return asyncio.run(main())
