"""The shared consume -> decode -> process -> produce -> commit stage on the real broker: its own guarantees, and
the worker and the sink keeping them (an undecodable record is a dead letter with its cause, the next good one
is still processed, offsets move past both only once everything is acknowledged)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from connectors.crm.dead_letters import entries
from connectors.crm.migrations import migrate
from connectors.crm.sink import CrmSink
from leadflow.config import Config
from leadflow.kafka import new_consumer, new_producer
from leadflow.stage import Failure, Inputs, Offsets, Stage
from schemas.codec import Codec
from schemas.records import DeadLetter, Interaction, LeadEvent, Record, Score
from streams.core.model import parse_model
from streams.worker import Worker
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
JUNK = b"\x00not avro"
MODEL = """\
version: stage-test
thresholds: {promote: 50}
rules:
  - {id: steady, when: {type: page.viewed}, points: 30}
"""


async def produce(config: Config, topic_name: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = new_producer(config)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(config.topic(topic_name), key=key, value=value)
    finally:
        await producer.stop()


async def committed(config: Config, group: str, topic_name: str) -> dict[int, int]:
    """The group's committed offsets, by partition (partitions it never committed left out)."""
    consumer = AIOKafkaConsumer(**config.kafka.client_kwargs(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = config.topic(topic_name)
        partitions = consumer.partitions_for_topic(topic) or set(range(config.partitions))
        found = {p: await consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await consumer.stop()
    return {p: offset for p, offset in found.items() if offset is not None}


def dead_letters(config: Config) -> list[DeadLetter]:
    return [e.letter for e in asyncio.run(entries(config, Codec()))]


def view(n: int, pid: str) -> Interaction:
    now = time.time_ns() // 1_000_000
    return Interaction(event_id=f"{pid}-{n}", prospect_key=pid, prospect_id=pid, email=f"{pid}@x.io",
                       type="page.viewed", occurred_at=now + n, received_at=now + n, source="test",
                       url="https://a.io/steady")


def lead(pid: str) -> LeadEvent:
    return LeadEvent(event_id=f"{pid}-v1", prospect_id=pid, type="lead.promoted", occurred_at=5000,
                     received_at=5000, version=1, stage="lead", score=Score(60, 0, 60), model_version="m1",
                     cause_event_id=f"{pid}-e1", email=f"{pid}@x.io", promoted_at=5000)


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def until(check, timeout_s: float = 30.0, task: asyncio.Task | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        assert task is None or not task.done(), task.exception()
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


# --- the worker and the sink ---------------------------------------------------------------------------------------


def test_the_worker_dead_letters_an_undecodable_input_and_processes_the_next(config: Config) -> None:
    codec, topic = Codec(), config.topic("interactions")
    undecodable_before = metric("leadflow_worker_events_undecodable_total")

    async def main() -> None:
        # the junk first, on the prospect's partition: the good inputs after it must still be scored
        await produce(config, "interactions", [(b"p_ada", JUNK), *((b"p_ada", codec.encode(view(n, "p_ada"), topic))
                                                                  for n in range(2))])
        stop = asyncio.Event()
        worker = Worker(config, parse_model(MODEL), codec)
        task = asyncio.create_task(worker.run(stop))
        try:
            leads = await read_topic(config, "leads", 1, timeout_s=40)
            assert [(e.prospect_id, e.type) for _, e in leads] == [("p_ada", "lead.promoted")]
            await until(lambda: len(dead_letters(config)) == 1, task=task)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)  # the last checkpoint commits the inputs

    asyncio.run(main())
    [letter] = dead_letters(config)
    assert (letter.source_topic, letter.key, letter.payload, letter.target) == (topic, b"p_ada", JUNK, "worker")
    assert letter.error.startswith("undecodable: ") and letter.attempts == 0
    assert metric("leadflow_worker_events_undecodable_total") == undecodable_before + 1
    # the junk and the two views are behind the committed offset: a restart reads neither again
    assert asyncio.run(committed(config, f"{config.topic_prefix}-worker", "interactions")) == {
        letter.source_partition: 3}


def test_the_sink_dead_letters_an_undecodable_record_and_delivers_the_next(config: Config) -> None:
    import psycopg

    migrate(config.crm_dsn)
    codec, topic = Codec(), config.topic("leads")

    def written() -> int:
        with psycopg.connect(config.crm_dsn) as conn:
            return conn.execute("SELECT count(*) FROM crm_leads").fetchone()[0]

    async def main() -> None:
        await produce(config, "leads", [(b"p_bob", JUNK), (b"p_bob", codec.encode(lead("p_bob"), topic))])
        stop = asyncio.Event()
        task = asyncio.create_task(CrmSink(config, codec).run(stop))
        try:
            await until(lambda: written() == 1 and len(dead_letters(config)) == 1, task=task)
            # committed once the target and the dead-letter topic have the batch
            await until(lambda: asyncio.run(committed(config, f"{config.topic_prefix}-sink", "leads")) != {},
                        task=task)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    asyncio.run(main())
    [letter] = dead_letters(config)
    assert (letter.source_topic, letter.key, letter.payload, letter.target) == (topic, b"p_bob", JUNK, "postgres")
    assert letter.error.startswith("undecodable: ")
    assert asyncio.run(committed(config, f"{config.topic_prefix}-sink", "leads")) == {letter.source_partition: 2}


# --- the stage's own guarantees ------------------------------------------------------------------------------------


class Owner:
    """A handler that records what it was given and refuses or stops as told."""

    def __init__(self, refuse: tuple[bytes, ...] = (), stop: bool = False) -> None:
        self.refuse, self.stop = refuse, stop
        self.seen: list[Record] = []
        self.letters: list[DeadLetter] = []
        self.released: list[Offsets] = []

    async def handle(self, inputs: Inputs[Record], stop: asyncio.Event) -> list[Failure] | None:
        if self.stop:
            return None
        self.seen.extend(value for _, value in inputs.decoded)
        return [Failure(record, "refused by the test") for record, value in inputs.decoded
                if record.key in self.refuse]


async def staged(config: Config, owner: Owner, expected: int, deferred: bool = False, producer=None):
    """A stage on the leads topic in its own group, its batch fetched (``expected`` records) and processed."""
    group = f"stage-{uuid.uuid4().hex[:8]}"
    consumer = new_consumer(config, group, config.topic("leads"))
    own_producer = new_producer(config)
    await own_producer.start()
    await consumer.start()
    stop = asyncio.Event()
    stage: Stage[Record] = Stage(
        consumer, producer or own_producer, Codec(), dlq_topic=config.topic("sink-dlq"), target="test",
        decode=Codec().decode, handle=owner.handle, on_dead_lettered=owner.letters.extend, batch_size=100,
        batch_wait_ms=200, defer_commit=owner.released.append if deferred else None)
    try:
        fetched: dict = {}
        deadline = time.monotonic() + 30
        while sum(map(len, fetched.values())) < expected:
            assert time.monotonic() < deadline, "the records never arrived"
            for tp, records in (await stage.fetch(stop)).items():
                fetched.setdefault(tp, []).extend(records)
        if producer is not None:  # a dead-letter topic that never answers: the owner stops meanwhile
            asyncio.get_running_loop().call_later(0.5, stop.set)
        released = await stage.process(fetched, stop)
    finally:
        await consumer.stop()
        await own_producer.stop()
    return released, group


def test_an_undecodable_record_is_dead_lettered_and_the_batch_committed_past_it(config: Config) -> None:
    codec, topic = Codec(), config.topic("leads")
    owner = Owner()

    async def main():  # one key: one partition, the junk at offset 1 between two good records
        await produce(config, "leads", [(b"k", codec.encode(lead("a"), topic)), (b"k", JUNK),
                                        (b"k", codec.encode(lead("b"), topic))])
        return await staged(config, owner, 3)

    released, group = asyncio.run(main())
    [(tp, end)] = released.items()
    assert [e.prospect_id for e in owner.seen] == ["a", "b"]
    assert end == 3 and asyncio.run(committed(config, group, "leads")) == {tp.partition: 3}
    [letter] = dead_letters(config)
    assert owner.letters == [letter]
    assert (letter.source_topic, letter.source_offset, letter.key, letter.payload, letter.target) == (
        topic, 1, b"k", JUNK, "test")
    assert letter.error.startswith("undecodable: ") and letter.attempts == 0


def test_refused_and_undecodable_records_become_dead_letters_together(config: Config) -> None:
    codec, topic = Codec(), config.topic("leads")
    owner = Owner(refuse=(b"k",))

    async def main():
        await produce(config, "leads", [(b"k", codec.encode(lead("a"), topic)), (b"k", JUNK)])
        return await staged(config, owner, 2)

    released, group = asyncio.run(main())
    assert [e.prospect_id for e in owner.seen] == ["a"]
    assert [(letter.source_offset, letter.error[:11]) for letter in owner.letters] == [(0, "refused by "),
                                                                                       (1, "undecodable")]
    assert sorted(letter.source_offset for letter in dead_letters(config)) == [0, 1]
    assert list(released.values()) == [2] and list(asyncio.run(committed(config, group, "leads")).values()) == [2]


def test_a_deferred_commit_hands_the_offsets_to_the_owner_and_commits_nothing(config: Config) -> None:
    codec, topic = Codec(), config.topic("leads")
    owner = Owner()

    async def main():
        await produce(config, "leads", [(b"k", JUNK), (b"k", codec.encode(lead("a"), topic))])
        return await staged(config, owner, 2, deferred=True)

    released, group = asyncio.run(main())
    assert owner.released == [released] and list(released.values()) == [2]
    assert len(owner.letters) == 1 and [e.prospect_id for e in owner.seen] == ["a"]
    assert asyncio.run(committed(config, group, "leads")) == {}


def test_a_handler_that_stops_releases_nothing_and_dead_letters_nothing(config: Config) -> None:
    owner = Owner(stop=True)

    async def main():
        await produce(config, "leads", [(b"k", JUNK), (b"k", JUNK)])
        return await staged(config, owner, 2)

    released, group = asyncio.run(main())
    assert released is None and owner.letters == [] and dead_letters(config) == []
    assert asyncio.run(committed(config, group, "leads")) == {}


class UnreachableDlq:
    async def send_and_wait(self, *args: object, **kwargs: object) -> None:
        raise KafkaConnectionError()


def test_a_dead_letter_not_acknowledged_before_the_stop_releases_nothing(config: Config) -> None:
    codec, topic = Codec(), config.topic("leads")
    owner = Owner()

    async def main():
        await produce(config, "leads", [(b"k", codec.encode(lead("a"), topic)), (b"k", JUNK)])
        return await staged(config, owner, 2, producer=UnreachableDlq())

    released, group = asyncio.run(main())
    assert released is None and owner.letters == []
    assert asyncio.run(committed(config, group, "leads")) == {}  # the batch is read again, the junk included


def test_records_of_a_partition_no_longer_held_are_left_to_its_new_owner(config: Config) -> None:
    codec, topic = Codec(), config.topic("leads")
    owner = Owner()

    async def main():
        await produce(config, "leads", [(b"k", codec.encode(lead("a"), topic))])
        group = f"stage-{uuid.uuid4().hex[:8]}"
        consumer = new_consumer(config, group, topic)
        producer = new_producer(config)
        await producer.start()
        await consumer.start()
        stop = asyncio.Event()
        stage: Stage[Record] = Stage(consumer, producer, codec, dlq_topic=config.topic("sink-dlq"), target="test",
                                     decode=codec.decode, handle=owner.handle, on_dead_lettered=owner.letters.extend,
                                     batch_size=10)
        try:
            fetched: dict = {}
            while not fetched:
                fetched = await stage.fetch(stop)
            [(tp, records)] = fetched.items()
            gone = TopicPartition(config.topic("sla"), 0)  # never assigned to this consumer
            fetched[gone] = [dataclasses.replace(records[0], topic=gone.topic, value=JUNK)]
            return await stage.process(fetched, stop), tp
        finally:
            await consumer.stop()
            await producer.stop()

    released, tp = asyncio.run(main())
    assert released == {tp: 1} and [e.prospect_id for e in owner.seen] == ["a"] and owner.letters == []


def test_records_of_a_partition_its_owner_let_go_mid_rebalance_are_neither_handled_nor_released(config: Config) -> None:
    """Between a rebalance's revocation and its new assignment the consumer still lists the old partitions, but
    the worker has stored and let go of their states: it says so with ``holds``, and those records wait for the
    committed offset, whoever owns the partition next."""
    codec, topic = Codec(), config.topic("leads")
    owner = Owner()

    async def main():
        await produce(config, "leads", [(b"k", codec.encode(lead("a"), topic))])
        consumer = new_consumer(config, f"stage-{uuid.uuid4().hex[:8]}", topic)
        await consumer.start()
        stage: Stage[Record] = Stage(consumer, None, codec, dlq_topic=None, target="test", decode=codec.decode,
                                     handle=owner.handle, on_dead_lettered=owner.letters.extend, batch_size=10,
                                     holds=lambda tp: False)
        try:
            fetched: dict = {}
            while not fetched:
                fetched = await stage.fetch(asyncio.Event())
            return await stage.process(fetched, asyncio.Event())
        finally:
            await consumer.stop()

    assert asyncio.run(main()) == {} and owner.seen == []
