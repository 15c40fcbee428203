"""Read prospect state straight from the worker's changelog topic, for `leadflow explain` and `rescore`.

Works whether or not a worker runs. The changelog is partitioned like the interactions
topic, so one prospect needs only its own partition.
"""

from __future__ import annotations

from typing import Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from leadflow.config import Config
from leadflow.partitioner import key_partitioner
from streams.core.prospect import ProspectState
from streams.state_codec import load_state


def changelog_topic(config: Config) -> str:
    return f"{config.topic_prefix}-worker-prospects-changelog"


async def read_states(config: Config, key: str | None = None) -> dict[str, ProspectState]:
    """The latest state of one prospect key, or of every prospect."""
    topic = changelog_topic(config)
    consumer = AIOKafkaConsumer(**config.kafka.client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = sorted(await consumer._client._wait_on_metadata(topic) or [])
        if not partitions:
            return {}
        if key is not None:
            partitions = [key_partitioner(key.encode(), partitions, partitions)]
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        latest: dict[bytes, bytes | None] = {}
        async for tp, records in _until(consumer, ends):
            for record in records:
                if key is None or record.key == key.encode():
                    latest[record.key] = record.value
        return {k.decode(): load_state(v) for k, v in latest.items() if v is not None}
    finally:
        await consumer.stop()


async def _until(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> Iterator:
    remaining = {tp for tp, end in ends.items() if end > 0}
    idle = 0
    while remaining and idle < 20:
        batches = await consumer.getmany(timeout_ms=250, max_records=5000)
        idle = 0 if batches else idle + 1
        for tp, records in batches.items():
            yield tp, records
            if records and records[-1].offset + 1 >= ends[tp]:
                remaining.discard(tp)
