"""The worker's readiness probe: 503 with a reason until it holds its partitions, then 200."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from leadflow.config import DEFAULT_MODEL, Config
from streams.core.model import load_model
from streams.table import ProspectTable
from streams.web import worker_routes


def test_readyz_follows_the_workers_readiness() -> None:
    ready = [False]

    async def probe() -> list[tuple[int, dict]]:
        config = Config()
        app = worker_routes(config, ProspectTable(config), load_model(DEFAULT_MODEL), lambda: ready[0])
        async with TestClient(TestServer(app)) as client:
            answers = []
            for state in (False, True):
                ready[0] = state
                response = await client.get("/readyz")
                answers.append((response.status, await response.json()))
            return answers

    (before, before_body), (after, after_body) = asyncio.run(probe())
    assert (before, before_body["status"]) == (503, "not ready") and "recovering" in before_body["reason"]
    assert (after, after_body) == (200, {"status": "ready"})
