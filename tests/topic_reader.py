"""Wait for what the pipeline produced on a topic, decoded."""

from __future__ import annotations

import asyncio

from leadflow.config import Config
from leadflow.topic_reader import TopicReader
from schemas.codec import Codec


async def read_topic(config: Config, name: str, expected: int, timeout_s: float = 15.0) -> list:
    """(key, record) pairs of ``config.topic(name)``; waits until at least ``expected`` arrived."""
    codec = Codec()
    out: list = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with TopicReader(config, config.topic(name)) as reader:
        async for records in reader.batches():
            out.extend((r.key, codec.decode(r.value)) for r in records)
            if len(out) >= expected or loop.time() > deadline:
                return out
    return out
