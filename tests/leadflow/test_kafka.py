"""send_batched on the real broker: the partitions and order one send per record would give."""

from __future__ import annotations

import asyncio

from leadflow.config import Config
from leadflow.kafka import MAX_BATCH_BYTES, new_producer, send_batched
from leadflow.partitioner import partition_of
from leadflow.topic_reader import TopicReader


async def _sent_and_read(config: Config, records: list) -> list:
    producer = new_producer(config)
    await producer.start()
    try:
        await send_batched(producer, records)
    finally:
        await producer.stop()
    got: list = []
    async with TopicReader(config, config.topic("sla")) as reader:
        async for batch in reader.batches():
            got.extend(batch)
            if len(got) >= len(records):
                break
    return got


def test_records_land_on_their_key_partition_in_order_across_several_batches(config: Config) -> None:
    topic = config.topic("sla")
    value = b"v" * 4000  # 300 of them overflow a partition's batch several times
    records = [(topic, f"p{n % 7}".encode(), value + str(n).encode(), None) for n in range(300)]
    assert sum(len(v) for _, _, v, _ in records) > 3 * MAX_BATCH_BYTES
    got = asyncio.run(_sent_and_read(config, records))
    assert len(got) == 300
    for record in got:
        assert record.partition == partition_of(record.key, config.partitions)
    for key in {r.key for r in got}:
        sequence = [int(r.value[4000:]) for r in sorted(got, key=lambda r: (r.partition, r.offset)) if r.key == key]
        assert sequence == sorted(sequence) and len(sequence) > 1


def test_an_explicit_partition_wins_and_unkeyed_records_are_spread(config: Config) -> None:
    topic = config.topic("sla")
    records = [(topic, b"k", b"pinned", 2)] + [(topic, None, f"u{n}".encode(), None) for n in range(60)]
    got = asyncio.run(_sent_and_read(config, records))
    assert [r.partition for r in got if r.value == b"pinned"] == [2]
    assert {r.partition for r in got if r.key is None} == set(range(config.partitions))
