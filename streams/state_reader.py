"""Read prospect state for `leadflow explain`, `rescore`, `automations`, the backtests and the prospect API.

Works whether or not a worker runs. The changelog topic is the source of truth, partitioned
like the interactions topic, so one prospect needs only its own partition. But a large
changelog partition takes long to read whole, and a worker on this machine keeps a store of
each partition it held (``streams.store``) with everything up to a changelog offset. So a
partition with such a store is read from it (opened read-only: a running worker keeps it)
plus the changelog's tail from that offset; a partition with none, or whose store is not a
copy of this changelog up to an offset it still holds, from the changelog alone. Either
way the states are the ones the changelog holds, and so are the commands' outputs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Literal

from leadflow.config import Config
from leadflow.partitioner import partition_of
from leadflow.topic_reader import TopicReader
from streams.core.prospect import ProspectState
from streams.state_chunks import is_chunk, load, prospect_of
from streams.state_codec import FORMAT, READS
from streams.store import PartitionStore, StoreError, StoreIdentity, open_read_only

log = logging.getLogger("leadflow.state_reader")
END_MARKER = b"\x00leadflow:end"  # a tombstone a recovering worker writes to find a partition's end; not a prospect
Latest = dict[bytes, bytes | None]  # changelog key -> its newest value (None: deleted)


def changelog_topic(config: Config) -> str:
    return config.topic("prospect-state")


def store_identity(config: Config, partition: int) -> StoreIdentity:
    """What a store must say it is to be a copy of this changelog partition (the worker checks the same)."""
    return StoreIdentity(changelog_topic(config), config.partitions, partition, FORMAT)


async def read_latest(config: Config, partitions: list[int] | None = None, only: bytes | None = None,
                      start: dict[int, int] | None = None, latest: Latest | None = None) -> Latest:
    """The newest value of every key (or of the prospect ``only``'s keys) in these changelog partitions (all when
    None), read from ``start[partition]`` (else the beginning) over ``latest`` (what a store held before that
    offset); None where the newest record deletes the key."""
    latest = {} if latest is None else latest
    async with TopicReader(config, changelog_topic(config), partitions, start=start) as reader:
        async for records in reader.to_end():
            for record in records:
                if (only is None or prospect_of(record.key) == only) and record.key != END_MARKER:
                    latest[record.key] = record.value
    return latest


async def read_states(config: Config, key: str | None = None,
                      source: Literal["stores", "changelog"] = "stores") -> dict[str, ProspectState]:
    """The latest state of one prospect key (only its partition read, only its state decoded), or of every
    prospect; from this machine's stores and the changelog's tail where it can, else (``source="changelog"``
    too) from the changelog alone."""
    only = None if key is None else key.encode()
    partitions = None if only is None else [partition_of(only, config.partitions)]
    if source == "stores" and config.state_store != "memory":
        try:
            return await _from_stores(config, partitions, only)
        except (StoreError, ValueError) as exc:  # a store that fails to read (or lacks a chunk): not worth an error
            log.debug("reading the changelog alone: %s", exc)
    latest = await read_latest(config, partitions, only)
    return _decode(latest, lambda _: None, only)


async def _from_stores(config: Config, partitions: list[int] | None, only: bytes | None) -> dict[str, ProspectState]:
    stores = await _copies(config, partitions)
    try:
        latest: Latest = {}
        if only is None:  # every state: the stores' contents, then the tail over them
            for store in stores.values():
                latest.update(await asyncio.to_thread(_read, store, lambda s=store: dict(s.items())))
        start = {partition: store.offset() for partition, store in stores.items()}
        await read_latest(config, partitions, only, start, latest)
        home = None if partitions is None else stores.get(partitions[0])
        return _decode(latest, _reader(home), only)  # one prospect: what the tail did not change, from its store
    finally:
        for store in stores.values():
            store.close()


async def _copies(config: Config, partitions: list[int] | None) -> dict[int, PartitionStore]:
    """The stores on this machine that are copies of these changelog partitions (all when None) up to an offset
    the changelog still holds, opened read-only."""
    stores: dict[int, PartitionStore] = {}
    try:
        for partition in range(config.partitions) if partitions is None else partitions:
            try:
                store = await asyncio.to_thread(open_read_only, config, partition)
            except StoreError as exc:  # e.g. a reader who may not write its directory (rocksdict notes its config)
                log.debug("partition %d: reading the changelog alone: %s", partition, exc)
                continue
            if store is not None:
                stores[partition] = store
        if not stores:
            return stores
        async with TopicReader(config, changelog_topic(config), sorted(stores)) as probe:
            beginnings = await probe.beginning_offsets()
            ends = {tp.partition: offset for tp, offset in (await probe.end_offsets()).items()}
        for partition, store in list(stores.items()):
            why = unusable(store, store_identity(config, partition), beginnings.get(partition, 0),
                           ends.get(partition, 0))
            if why is None:
                log.debug("partition %d: reading the store %s, then the changelog from offset %d", partition,
                          store.location, store.offset())
            else:
                log.debug("partition %d: reading the changelog alone, not the store %s: %s", partition,
                          store.location, why)
                stores.pop(partition).close()
    except BaseException:
        for store in stores.values():
            store.close()
        raise
    return stores


def unusable(store: PartitionStore, wanted: StoreIdentity, beginning: int, end: int) -> str | None:
    """Why the store is no copy of the changelog partition that now holds offsets ``beginning`` to ``end`` - 1
    (the worker rebuilds such a store when it next holds the partition); None when it is one."""
    why = wanted.mismatch(store.identity(), READS)
    if why is None and store.offset() > end:
        why = f"it holds changelog offsets up to {store.offset()}, past the changelog's end {end}"
    elif why is None and store.offset() < beginning:
        why = f"the changelog no longer holds its offsets {store.offset()}-{beginning - 1}"
    return why


def _reader(store: PartitionStore | None) -> Callable[[bytes], bytes | None]:
    return lambda key: None if store is None else _read(store, store.get, key)


def _read(store: PartitionStore, read: Callable, *args: object) -> Any:
    try:
        return read(*args)
    except Exception as exc:  # rocksdict raises plain Exception: e.g. a file the worker compacted away meanwhile
        raise StoreError(f"cannot read the state store {store.location}: {exc}") from exc


def _decode(latest: Latest, stored: Callable[[bytes], bytes | None], only: bytes | None) -> dict[str, ProspectState]:
    """The states of the heads in ``latest`` (of ``only`` alone when given), a key missing there read from
    ``stored``."""
    def value(key: bytes) -> bytes | None:
        return latest[key] if key in latest else stored(key)

    keys = [only] if only is not None else [k for k in latest if not is_chunk(k)]
    heads = {k: value(k) for k in keys}
    return {k.decode(): load(head, value)[0] for k, head in heads.items() if head is not None}
