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
    def __init__(self, config: Config, topic: str, partitions: list[int] | None = None,
                 start: dict[int, int] | None = None) -> None:
        """``start``: the offset to read each partition from (the beginning when not given)."""
        self.topic = topic
        self._only = partitions
        self._start = start or {}
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
                for tp in self.partitions:
                    if self._start.get(tp.partition):
                        self._consumer.seek(tp, self._start[tp.partition])
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

    async def up_to(self, ends: dict[int, int]) -> AsyncIterator[list[ConsumerRecord]]:
        """Every record before ``ends[partition]`` (an offset the caller knows was written, such as a marker it
        produced), and nothing after: exact on any broker, whatever it reports as the partition's end."""
        remaining = {p for p, end in ends.items() if end > self._start.get(p, 0)}
        async for records in self.batches():
            if not remaining:
                return
            kept = [r for r in records if r.offset < ends[r.partition]]
            for record in records:
                if record.offset + 1 >= ends[record.partition]:
                    remaining.discard(record.partition)
            if kept:
                yield kept

    async def beginning_offsets(self) -> dict[int, int]:
        """The first offset each partition still holds (retention and compaction move it on)."""
        found = await self._consumer.beginning_offsets(self.partitions) if self.partitions else {}
        return {tp.partition: offset for tp, offset in found.items()}

    async def end_offsets(self) -> dict[TopicPartition, int]:
        return await self._consumer.end_offsets(self.partitions) if self.partitions else {}

    async def to_end(self, idle_polls: int = 8) -> AsyncIterator[list[ConsumerRecord]]:
        """Everything up to the end offsets seen on entry (from ``start``: a partition already read to its end
        is not waited for). Also stops after ``idle_polls`` empty polls, since the embedded broker can report an
        end offset past the last record it returns."""
        if not self.partitions:
            return
        ends = await self.end_offsets()
        remaining = {tp.partition for tp, end in ends.items() if end > self._start.get(tp.partition, 0)}
        if not remaining:
            return
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
