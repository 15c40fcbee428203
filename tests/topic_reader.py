"""Read a topic from the beginning without a consumer group (no group join to wait for)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from leadflow.config import Config
from schemas.codec import Codec


async def read_topic(config: Config, name: str, expected: int, timeout_s: float = 15.0) -> list:
    """Decoded records of ``config.topic(name)``; waits until at least ``expected`` arrived."""
    topic = config.topic(name)
    codec = Codec()
    consumer = AIOKafkaConsumer(**config.kafka.client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await consumer._client._wait_on_metadata(topic) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(out) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                out.extend((r.key, codec.decode(r.value)) for r in records)
        return out
    finally:
        await consumer.stop()
