"""The prospects table: the assigned partitions' states, in local stores, backed by a compacted changelog topic.

The changelog is partitioned like the input topics (same key, same partitioner), so the
worker that owns input partition p owns changelog partition p. Each partition has a local
store (``streams.store``) that is a copy of the changelog up to an offset it records: on
assignment the worker checks the store is a copy of this changelog (else rebuilds it),
reads only the changelog's tail after that offset, and is ready; a worker handed a
partition it never held reads it whole. The end of the tail is a marker the worker
writes to the partition itself, so recovery never trusts a broker's high watermark (the
embedded broker's is the last batch's base offset + 1).

Live states sit in a bounded cache (``streams.live_states``); a checkpoint writes the
changed states to the changelog, then to the stores with the changelog offsets they
reach, then lets the cache shed what it holds beyond its limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator

from aiokafka import AIOKafkaProducer

from leadflow.config import Config
from leadflow.kafka import send_batched
from leadflow.partitioner import partition_of
from leadflow.topic_reader import TopicReader
from streams.batch import Record
from streams.core.prospect import ProspectState
from streams.live_states import LiveStates
from streams import state_chunks
from streams.state_chunks import Written, is_chunk, prospect_of
from streams.state_codec import READS
from streams.state_reader import END_MARKER, changelog_topic, store_identity, unusable
from streams.store import PartitionStore, StoreError, StoreIdentity, StoreLocked, open_store, remove_store

log = logging.getLogger("leadflow.worker")
Dumped = dict[bytes, tuple[int, list[tuple[bytes, bytes | None]]]]  # prospect -> (partition, its records)
TAIL_CHUNK = 5_000  # changelog records a recovery writes to the store at a time
LOCK_WAIT_S = 30.0  # how long a partition's previous owner on this machine may take to let go of its store


@dataclass
class Recovered:
    """What recovering a set of partitions found: the keys the changelog's tail changed (their timers and model
    must be looked at again), the partitions read whole, and figures for the log."""

    tail_keys: set[bytes] = field(default_factory=set)
    rebuilt: set[int] = field(default_factory=set)
    reseeded: set[int] = field(default_factory=set)
    records: int = 0
    seconds: float = 0.0


class ProspectTable:
    def __init__(self, config: Config) -> None:
        self._config = config
        self.topic = changelog_topic(config)
        self.stores: dict[int, PartitionStore] = {}
        self.written: dict[bytes, Written] = {}  # per live prospect: what its last changelog write held
        self.states = LiveStates(self._stored, config.state_cache, on_evict=self.written.pop)

    @property
    def partitions(self) -> set[int]:
        return set(self.stores)

    def partition_of(self, key: bytes) -> int:
        return partition_of(key, self._config.partitions)

    def _stored(self, key: bytes, partition: int | None) -> ProspectState | None:
        store = self.stores.get(self.partition_of(key) if partition is None else partition)
        head = None if store is None else store.get(key)
        if head is None:
            return None
        state, written = state_chunks.load(head, store.get)  # type: ignore[union-attr]
        if written is not None:
            self.written[key] = written
        return state

    def holds(self, key: bytes) -> bool:
        """Whether the prospect has a state in its store (read, not decoded: a recovery asks it of every key its
        tail touched, and decodes them a slice at a time)."""
        store = self.stores.get(self.partition_of(key))
        return store is not None and store.get(key) is not None

    def dump(self, key: bytes) -> list[tuple[bytes, bytes | None]]:
        """The changelog records of this prospect's state now: its head and the chunks changed since the last."""
        records, written = state_chunks.dump(key, self.states[key], self.written.get(key))  # type: ignore[arg-type]
        if written is None:
            self.written.pop(key, None)
        else:
            self.written[key] = written
        return records

    def identity(self, partition: int) -> StoreIdentity:
        return store_identity(self._config, partition)

    def keys(self, partition: int) -> Iterator[bytes]:
        """Every prospect of an assigned partition, from its store."""
        return (key for key, _ in self.stores[partition].items() if not is_chunk(key))

    async def recover(self, partitions: set[int], producer: AIOKafkaProducer) -> Recovered:
        """Open (or rebuild) the stores of ``partitions`` and bring each up to the changelog's end."""
        started, found = time.perf_counter(), Recovered()
        if not partitions:
            return found
        for partition in sorted(partitions):
            self.stores[partition] = await self._open_checked(partition)
        # the end of each partition: a marker written now, so every state written before it is read
        written = await send_batched(producer, [Record(self.topic, END_MARKER, None, p) for p in partitions])
        ends = {p: written[self.topic, p] for p in partitions}
        async with TopicReader(self._config, self.topic, sorted(partitions)) as probe:
            beginnings = await probe.beginning_offsets()
        start = {}
        for partition in partitions:
            store = self.stores[partition]
            if store.offset() > ends[partition] and self._config.kafka.reseed_changelog and \
                    ends[partition] == beginnings.get(partition, 0):  # nothing before the marker: a new broker's
                await self._reseed(partition, store, producer)
                found.reseeded.add(partition)
            else:
                why = unusable(store, self.identity(partition), beginnings.get(partition, 0), ends[partition])
                if why:
                    self._rebuild(partition, store, why)
            if store.offset() == 0:
                found.rebuilt.add(partition)
            start[partition] = store.offset()
        async with TopicReader(self._config, self.topic, sorted(partitions), start=start) as reader:
            async for records in reader.up_to(ends):
                found.records += len(records)
                self._apply_tail(records, found.tail_keys)
        for partition in partitions:  # the marker itself read too (a re-seeded store is past it already)
            store = self.stores[partition]
            store.write({}, {}, max(store.offset(), ends[partition] + 1))
        found.seconds = time.perf_counter() - started
        return found

    async def _reseed(self, partition: int, store: PartitionStore, producer: AIOKafkaProducer) -> None:
        """The changelog partition is empty, the store is not: write the store's states back to the changelog
        (a broker that forgot its topics on restart), then note the offsets they now have."""
        log.info("partition %d: the changelog is empty and the local store %s holds states up to offset %d: "
                 "writing them back to the changelog", partition, store.location, store.offset())
        written, chunk = None, []
        for key, value in store.items():
            chunk.append(Record(self.topic, key, value, partition))
            if len(chunk) == TAIL_CHUNK:
                written = (await send_batched(producer, chunk))[self.topic, partition]
                chunk = []
        if chunk:
            written = (await send_batched(producer, chunk))[self.topic, partition]
        store.write({}, {}, 0 if written is None else written + 1)

    async def _open(self, partition: int) -> PartitionStore:
        """The partition's store; while another process on this machine holds it (its previous owner, handing
        it over), try again for a while."""
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                return open_store(self._config, partition)
            except StoreLocked:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
            except StoreError as exc:  # corrupt, or not a database: the changelog has everything it held
                log.warning("partition %d: %s: removing it and rebuilding it from the changelog", partition, exc)
                remove_store(self._config, partition)
                return open_store(self._config, partition)

    async def _open_checked(self, partition: int) -> PartitionStore:
        store = await self._open(partition)
        wanted, stored = self.identity(partition), store.identity()
        why = wanted.mismatch(stored, READS)
        if why is not None:
            if stored is not None or store.offset():
                self._rebuild(partition, store, why)
            else:
                store.reset(wanted)  # a new store
        elif stored is not None and stored != wanted:  # states of an older format this version reads
            log.info("partition %d: the local state store %s holds states of format %d: read as they are, and "
                     "written as format %d from now on", partition, store.location, stored.state_format,
                     wanted.state_format)
            store.claim(wanted)
        return store

    def _rebuild(self, partition: int, store: PartitionStore, why: str) -> None:
        log.warning("partition %d: the local state store %s is not a copy of this changelog (%s): rebuilding it "
                    "from the changelog", partition, store.location, why)
        store.reset(self.identity(partition))

    def _apply_tail(self, records: list, keys: set[bytes]) -> None:
        """Changelog records into the stores, a chunk at a time, each chunk with the offset it reaches."""
        by_partition: dict[int, dict[bytes, bytes | None]] = {}
        last: dict[int, int] = {}
        for record in records:
            if record.key == END_MARKER:
                continue
            by_partition.setdefault(record.partition, {})[record.key] = record.value
            last[record.partition] = record.offset
            keys.add(prospect_of(record.key))
        for partition, states in by_partition.items():
            for key in states:
                self.states.discard(prospect_of(key))  # the store's copy is the newer one
            self.stores[partition].write(states, {key: None for key, value in states.items()
                                                  if value is None and not is_chunk(key)}, last[partition] + 1)

    def forget(self, partitions: set[int]) -> None:
        """Partitions handed to another worker: their cached states go, their stores close (kept on disk)."""
        for partition in partitions:
            store = self.stores.pop(partition, None)
            if store is not None:
                store.close()
        self.states.drop(lambda key: self.partition_of(key) in self.stores)

    def close(self) -> None:
        self.forget(set(self.stores))

    def save(self, dumped: Dumped, timers: dict[bytes, bytes | None], reached: dict[tuple[str, int], int]) -> None:
        """A checkpoint's states (already in the changelog, up to the offsets ``reached``) into the stores."""
        by_partition: dict[int, dict[bytes, bytes | None]] = {}
        for key, (partition, records) in dumped.items():
            by_partition.setdefault(partition, {}).update(records)
        for partition, states in by_partition.items():
            offset = reached.get((self.topic, partition))
            self._write(partition, states, {key: timers.get(key) for key in states if key in timers},
                        None if offset is None else offset + 1)

    def index(self, timers: dict[bytes, bytes | None]) -> None:
        """Timer index entries alone (prospects recovered from the changelog, their states unchanged)."""
        by_partition: dict[int, dict[bytes, bytes | None]] = {}
        for key, entry in timers.items():
            by_partition.setdefault(self.partition_of(key), {})[key] = entry
        for partition, entries in by_partition.items():
            self._write(partition, {}, entries, None)

    def _write(self, partition: int, states: dict[bytes, bytes | None], timers: dict[bytes, bytes | None],
               offset: int | None) -> None:
        store = self.stores.get(partition)
        if store is not None:  # else handed over meanwhile: the changelog has it for the next owner
            store.write(states, timers, offset)

    def trim(self, pinned: Collection[bytes]) -> int:
        return self.states.trim(pinned)

    def groups(self, dumped: Dumped) -> list[list[Record]]:
        """Serialized states (key -> (partition, its records)) as changelog records, in the groups to send one
        after the other. On a broker that reports a partition's end as its last batch's base offset + 1 (the
        embedded one), each partition's last record goes alone, so a reader that trusts it (``leadflow explain``)
        reads to the real end."""
        records = [Record(self.topic, subkey, value, partition)
                   for partition, written in dumped.values() for subkey, value in written]
        if not self._config.kafka.seal_changelog:
            return [records]
        sealed = {r.partition: r for r in records}
        return [[r for r in records if sealed.get(r.partition) is not r], list(sealed.values())]

    def live(self, key: bytes) -> ProspectState | None:
        """The prospect's state, decoded on first use; None for a prospect never seen."""
        return self.states.fetch(key, None)  # type: ignore[return-value]


def timer_entry(due: int | None, clock: str | None) -> bytes | None:
    """A prospect's line in the store's timer index: when it next has something due, and its SLA clock's status."""
    return None if due is None and clock is None else f"{'' if due is None else due} {clock or ''}".encode()


def read_timer(entry: bytes) -> tuple[int | None, str | None]:
    due, _, clock = entry.decode().partition(" ")
    return (int(due) if due else None), (clock or None)


def keys_of(partitions: Iterable[int], table: ProspectTable, keys: Iterable[bytes]) -> list[bytes]:
    wanted = set(partitions)
    return [key for key in keys if table.partition_of(key) in wanted]
