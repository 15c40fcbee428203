"""Read a topic from its beginning without a consumer group: no group join to wait for, no offsets committed.

How `leadflow explain` reads the worker's changelog, how tests read what the pipeline
produced, and how benchmarks count what arrived.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from leadflow.config import Config


class TopicReader:
    def __init__(self, config: Config, topic: str, partitions: list[int] | None = None) -> None:
        self.topic = topic
        self._only = partitions
        self._consumer = AIOKafkaConsumer(**config.kafka.client_kwargs(), enable_auto_commit=False)
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        try:
            await self._consumer.topics()  # refreshes metadata, so a freshly created topic is known
            known = sorted(self._consumer.partitions_for_topic(self.topic) or ())
            self.partitions = [TopicPartition(self.topic, p) for p in known if self._only is None or p in self._only]
            if self.partitions:
                self._consumer.assign(self.partitions)
                await self._consumer.seek_to_beginning(*self.partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def batches(self, poll_ms: int = 200, max_records: int = 5000) -> AsyncIterator[list[ConsumerRecord]]:
        """Records as they arrive, oldest first per partition; yields an empty list when a poll found nothing."""
        while True:
            if not self.partitions:
                await asyncio.sleep(poll_ms / 1000)
                yield []
                continue
            fetched = await self._consumer.getmany(timeout_ms=poll_ms, max_records=max_records)
            yield [record for records in fetched.values() for record in records]

    async def end_offsets(self) -> dict[TopicPartition, int]:
        return await self._consumer.end_offsets(self.partitions) if self.partitions else {}

    async def to_end(self, idle_polls: int = 8) -> AsyncIterator[list[ConsumerRecord]]:
        """Everything up to the end offsets seen on entry. Also stops after ``idle_polls`` empty polls, since
        the embedded broker can report an end offset past the last record it returns."""
        if not self.partitions:
            return
        ends = await self.end_offsets()
        remaining = {tp.partition for tp, end in ends.items() if end > 0}
        idle = 0
        async for records in self.batches():
            idle = 0 if records else idle + 1
            if not remaining or idle >= idle_polls:
                return
            for record in records:
                if record.offset + 1 >= ends[TopicPartition(self.topic, record.partition)]:
                    remaining.discard(record.partition)
            if records:
                yield records
