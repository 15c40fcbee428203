"""Wait for what the pipeline produced on a topic, decoded."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from leadflow.config import Config
from leadflow.topic_reader import TopicReader
from schemas.codec import Codec

Pairs = list[tuple[bytes, Any]]  # (key, decoded record), oldest first per partition


async def read_topic(config: Config, name: str, expected: int, timeout_s: float = 15.0) -> list:
    """(key, record) pairs of ``config.topic(name)``; waits until at least ``expected`` arrived."""
    return await read_topic_until(config, name, lambda out: len(out) >= expected, timeout_s)


async def read_topic_until(config: Config, name: str, done: Callable[[Pairs], bool], timeout_s: float = 15.0) -> Pairs:
    """(key, record) pairs of ``config.topic(name)`` from its beginning, read until ``done`` holds for everything
    read so far or the time is up (the caller asserts on what came). For at-least-once outputs, where a count of
    records says nothing (a redelivery repeats records), ``done`` looks at what they are."""
    codec = Codec()
    out: Pairs = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with TopicReader(config, config.topic(name)) as reader:
        async for records in reader.batches():
            out.extend((r.key, codec.decode(r.value)) for r in records)
            if done(out) or loop.time() > deadline:
                return out
    return out


async def read_all(config: Config, name: str) -> Pairs:
    """(key, record) pairs of everything on ``config.topic(name)`` so far: for asserting that nothing else came."""
    codec = Codec()
    out: Pairs = []
    async with TopicReader(config, config.topic(name)) as reader:
        async for records in reader.to_end():
            out.extend((r.key, codec.decode(r.value)) for r in records)
    return out
