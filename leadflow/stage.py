"""One consume -> decode -> process -> produce -> commit stage for every Kafka consumer shell (the worker, the CRM
sink, the action delivery).

Why one: the worker and the sink each had their own loop, and they had drifted apart on the record nobody can
read. The worker logged and skipped it, so an input was gone with nothing but a log line; the sink dead-lettered
it with its cause. Here that policy is written once: a record that cannot be decoded, like a record the owner
refuses, becomes a ``DeadLetter`` (its key and bytes, where it was read, the cause) on the dead-letter topic,
acknowledged before any offset moves past it, and counted by the owner's ``on_dead_lettered``.

The order at-least-once rests on, also written once: the owner's handler returns only once the batch's outputs
are acknowledged (produced and acked by the broker, or delivered to a target); then the dead letters are sent
and acknowledged; only then are the batch's offsets released. The owner picks what releasing means: the stage
commits them at once (the sink), or hands them to ``defer_commit`` and the owner commits them later (the worker,
at its checkpoint, after the changed states are stored). A handler that returns None (stopping before its
outputs were acknowledged), or a stop while the dead-letter topic is unreachable, releases nothing: the batch is
read again.

Records of partitions revoked while the batch filled are dropped unprocessed: their new owner reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable, Generic, Iterator, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord

from leadflow.clock import Clock, system_clock
from schemas.codec import Codec, DecodeError
from schemas.records import DeadLetter

log = logging.getLogger("leadflow.stage")
T = TypeVar("T")
Fetched = dict[TopicPartition, list[ConsumerRecord]]
Offsets = dict[TopicPartition, int]  # the next offset to read, per partition: what a commit stores
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 10.0
UNDECODABLE = "undecodable"  # how the cause of a dead letter the stage made itself begins
_NAMESPACE = uuid.UUID("5d1e0b9a-8f77-4d0e-9b1b-0c6f2a9e4d21")


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that will never be processed or delivered: it goes to the dead-letter topic with ``error``."""

    record: ConsumerRecord
    error: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Inputs(Generic[T]):
    """What a handler gets: the decoded records of the partitions still held, in each partition's order."""

    decoded: list[tuple[ConsumerRecord, T]]
    size: int  # records of the partitions held, decodable or not
    started: float  # time.perf_counter() when the stage began on the batch (before decoding)


# Returns once the batch's outputs are acknowledged: the records it refuses (dead-lettered), or None when it stops
# before its outputs were acknowledged (nothing is released).
Handler = Callable[[Inputs[T], asyncio.Event], Awaitable["list[Failure] | None"]]


def dead_letter(record: ConsumerRecord, error: str, target: str, attempts: int, now_ms: int) -> DeadLetter:
    """The record kept whole with the error; its id derives from where it was read, so a re-run dead-letters it
    under the same id."""
    return DeadLetter(event_id=str(uuid.uuid5(_NAMESPACE, f"{record.topic}/{record.partition}/{record.offset}")),
                      occurred_at=now_ms, received_at=now_ms, source_topic=record.topic,
                      source_partition=record.partition, source_offset=record.offset, key=record.key,
                      payload=record.value or b"", target=target, error=error, attempts=attempts)


def backoff_delays(start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> Iterator[float]:
    """Exponential backoff with full jitter, so many processes do not retry in step."""
    delay = start
    while True:
        yield random.uniform(0, delay)
        delay = min(cap, delay * 2)


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless the process stops first; True if it is stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


class Stage(Generic[T]):
    """``decode`` turns a record's value into what ``handle`` takes (raising ``DecodeError`` for what no schema
    wrote); ``target`` names the stage in its dead letters (``DeadLetter.target``). A reader that does not own
    the records (the action delivery's look at the interactions for suppressions) passes no ``dlq_topic`` and
    no producer: it skips what it cannot decode, and refuses nothing; the records' owner dead-letters them."""

    def __init__(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer | None, codec: Codec, *,
                 dlq_topic: str | None,
                 target: str, decode: Callable[[bytes], T], handle: Handler[T],
                 on_dead_lettered: Callable[[list[DeadLetter]], None], batch_size: int, batch_wait_ms: int = 0,
                 poll_ms: int = 500, defer_commit: Callable[[Offsets], None] | None = None,
                 holds: Callable[[TopicPartition], bool] = lambda tp: True, clock: Clock = system_clock) -> None:
        self._consumer = consumer
        self._producer = producer
        self._codec = codec
        self._dlq = dlq_topic
        self.target = target
        self._decode = decode
        self._handle = handle
        self._on_dead_lettered = on_dead_lettered
        self._batch_size = batch_size
        self._batch_wait_s = batch_wait_ms / 1000
        self._poll_ms = poll_ms
        self._defer_commit = defer_commit
        self._holds = holds
        self._clock = clock

    async def run(self, stop: asyncio.Event, *, guard: asyncio.Lock | None = None,
                  between: Callable[[], Awaitable[None]] | None = None) -> None:
        """Batch after batch until ``stop``. ``guard`` is held while a batch is processed and ``between`` runs
        (the worker's lock, which its rebalance callbacks and checkpoints take too), never while fetching;
        ``between`` runs after every fetch, empty or not (lag, readiness, a due checkpoint)."""
        while not stop.is_set():
            fetched = await self.fetch(stop)
            async with guard if guard is not None else contextlib.nullcontext():
                if fetched:
                    await self.process(fetched, stop)
                if between is not None:
                    await between()

    async def fetch(self, stop: asyncio.Event) -> Fetched:
        """Up to the batch size, waiting at most the batch wait once the first record is in (no wait: one poll)."""
        size = self._batch_size
        fetched = await self._consumer.getmany(timeout_ms=self._poll_ms, max_records=size)
        count = sum(map(len, fetched.values()))
        deadline = time.monotonic() + self._batch_wait_s
        while count and count < size and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            more = await self._consumer.getmany(timeout_ms=int(left * 1000), max_records=size - count)
            for tp, records in more.items():
                fetched.setdefault(tp, []).extend(records)
                count += len(records)
        return fetched

    async def process(self, fetched: Fetched, stop: asyncio.Event) -> Offsets | None:
        """Decode, handle, dead-letter, then release the offsets (commit, or hand them to ``defer_commit``).
        Returns the offsets released, or None when stopping released nothing."""
        started = time.perf_counter()
        assigned = self._consumer.assignment()
        decoded: list[tuple[ConsumerRecord, T]] = []
        undecodable: list[Failure] = []
        offsets: Offsets = {}
        size = 0
        for tp, records in fetched.items():
            # revoked while the batch filled, or between a rebalance's revocation and its new assignment (when the
            # consumer still lists the old one but the handler has let the partition go): the next owner reads
            # these from the committed offset, and so does this consumer if the partition comes back
            if tp not in assigned or not records or not self._holds(tp):
                continue
            size += len(records)
            for record in records:
                try:
                    if record.value is None:
                        raise DecodeError("no value (a tombstone)")
                    decoded.append((record, self._decode(record.value)))
                except DecodeError as exc:
                    undecodable.append(Failure(record, f"{UNDECODABLE}: {exc}", 0))
            offsets[tp] = records[-1].offset + 1
        if not offsets:
            return {}
        refused = await self._handle(Inputs(decoded, size, started), stop)
        if refused is None:
            return None
        if self._dlq is None:
            assert not refused, "a reader without a dead-letter topic refuses nothing"
            undecodable = []
        failures = sorted([*undecodable, *refused], key=lambda f: (f.record.topic, f.record.partition,
                                                                    f.record.offset))
        if failures and not await self.dead_letter(failures, stop):
            return None
        if self._defer_commit is not None:
            self._defer_commit(offsets)
        else:
            await self.commit(offsets)
        return offsets

    async def commit(self, offsets: Offsets) -> None:
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            log.warning("the group rebalanced before the commit: the partitions' new owners read those records "
                        "again (at least once)")

    async def dead_letter(self, failures: list[Failure], stop: asyncio.Event) -> bool:
        """Every failure on the dead-letter topic, acknowledged, retried with backoff while the topic is away;
        False if the process stops first."""
        assert self._dlq is not None and self._producer is not None
        now = self._clock()
        letters = [dead_letter(f.record, f.error, self.target, f.attempts, now) for f in failures]
        delays = backoff_delays()
        while not stop.is_set():
            try:
                for letter in letters:  # one at a time: few, and each its own batch keeps end offsets exact
                    await self._producer.send_and_wait(self._dlq, key=letter.key,
                                                       value=self._codec.encode(letter, self._dlq))
            except KafkaError as exc:
                delay = next(delays)
                log.warning("dead-letter topic unavailable (%s); retrying in %.1fs", exc, delay)
                await pause(stop, delay)
                continue
            self._on_dead_lettered(letters)
            for letter in letters:
                log.error("dead-lettered %s[%s]@%s: %s", letter.source_topic, letter.source_partition,
                          letter.source_offset, letter.error[:300])
            return True
        return False
