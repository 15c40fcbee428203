"""The dead-letter topic (`leadflow.sink-dlq`): records no target could ever take and records no stage could
decode (the sink's and the worker's), kept whole with the error; `leadflow dlq list` shows them and
`leadflow dlq replay` puts them back on their source topic once the cause is fixed (a migration applied, a
webhook endpoint repaired). The stage that consumes (``leadflow.stage``) writes them.

Replay progress is the committed offset of the consumer group ``<prefix>-dlq-replay``: `list`
marks what was replayed, and `replay` without ids takes only what was not.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from leadflow.config import Config
from leadflow.kafka import new_producer
from leadflow.topic_reader import TopicReader
from schemas.codec import Codec, DecodeError
from schemas.records import DeadLetter


@dataclass(frozen=True, slots=True)
class Entry:
    partition: int
    offset: int
    letter: DeadLetter
    replayed: bool
    summary: str  # what the payload is, when it can be decoded


def replay_group(config: Config) -> str:
    return f"{config.topic_prefix}-dlq-replay"


async def entries(config: Config, codec: Codec) -> list[Entry]:
    """Every dead letter, oldest first per partition, marked replayed or not."""
    topic = config.topic("sink-dlq")
    async with TopicReader(config, topic) as reader:
        done = await _replayed_up_to(config, reader.partitions)
        found = []
        async for records in reader.to_end():
            for record in records:
                letter = codec.decode(record.value)
                found.append(Entry(record.partition, record.offset, letter,
                                   record.offset < done.get(record.partition, 0), _summary(codec, letter)))
    return sorted(found, key=lambda e: (e.letter.occurred_at, e.partition, e.offset))


async def replay(config: Config, codec: Codec, ids: set[str] | None = None) -> list[Entry]:
    """Put dead letters back on their source topics: the ones named by event id, else every one not yet
    replayed (and then remember how far replay got)."""
    chosen = [e for e in await entries(config, codec) if (e.letter.event_id in ids if ids else not e.replayed)]
    producer = new_producer(config)
    await producer.start()
    try:
        for entry in chosen:
            await producer.send_and_wait(entry.letter.source_topic, key=entry.letter.key, value=entry.letter.payload)
    finally:
        await producer.stop()
    if not ids and chosen:
        ends: dict[int, int] = {}
        for entry in chosen:
            ends[entry.partition] = max(ends.get(entry.partition, 0), entry.offset + 1)
        await _mark_replayed(config, ends)
    return chosen


async def waiting(config: Config) -> int:
    """Dead letters not yet replayed: the DLQ size ops watch."""
    async with TopicReader(config, config.topic("sink-dlq")) as reader:
        ends = await reader.end_offsets()
        done = await _replayed_up_to(config, reader.partitions)
    return sum(max(0, end - done.get(tp.partition, 0)) for tp, end in ends.items())


@asynccontextmanager
async def _replay_progress(config: Config) -> AsyncIterator[AIOKafkaConsumer]:
    """A client of the replay group that never joins it: it only reads and commits the group's offsets."""
    consumer = AIOKafkaConsumer(**config.kafka.client_kwargs(), group_id=replay_group(config),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _replayed_up_to(config: Config, partitions: list[TopicPartition]) -> dict[int, int]:
    async with _replay_progress(config) as consumer:
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in partitions}


async def _mark_replayed(config: Config, ends: dict[int, int]) -> None:
    offsets = {TopicPartition(config.topic("sink-dlq"), p): end for p, end in ends.items()}
    async with _replay_progress(config) as consumer:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)


def _summary(codec: Codec, letter: DeadLetter) -> str:
    try:
        event = codec.decode(letter.payload)
    except DecodeError:
        return f"{len(letter.payload)} undecodable bytes"
    return f"{type(event).__name__} {getattr(event, 'type', '')} {getattr(event, 'prospect_id', '')}".strip()
