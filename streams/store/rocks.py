"""A partition store in RocksDB (``rocksdict``, raw bytes): states in the default column family, the timer index
and the store's own facts (identity, changelog offset) in two more, all written in one atomic batch.

Why the write-ahead log stays on: the offset and the states it covers must survive a
``kill -9`` together (a flush of one column family without the other would claim states it
does not hold). The log is not synced on every write: a power cut loses at most the last
writes, and the store then says an older offset, so the worker reads a longer tail.

Why a read-only open: `leadflow explain` and the other readers of prospect states
(``streams.state_reader``) read a store while its worker holds it. A read-only open takes
no lock and replays the write-ahead log, so it sees the store as of its last write, states
and offset together, and the worker goes on writing; it stays that snapshot until closed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Mapping

from rocksdict import AccessType, BlockBasedOptions, Cache, DBCompressionType, Options, Rdict, WriteBatch

from leadflow.config import Config
from streams.store.base import StoreError, StoreIdentity, StoreLocked

_TIMERS, _META = "timers", "meta"
_OFFSET, _IDENTITY = b"offset", b"identity"
WRITE_BUFFER_BYTES = 8 << 20  # per partition: a worker holds several (16 MiB cost ~33 MiB more at a million names, no faster)
BLOCK_CACHE_BYTES = Config().state_block_cache_bytes  # LEADFLOW_STATE_BLOCK_CACHE_MB's default: one cache per process
MEMTABLE_BLOOM_RATIO = 0.1  # of the write buffer, for its filter
BLOOM_BITS_PER_KEY = 10  # most reads are of prospects never seen: a filter answers them without touching a block
_cache: Cache | None = None


def _options(block_cache_bytes: int) -> Options:
    """Why 128 MiB of block cache: it holds states as their stores keep them (~1 KB a name, uncompressed), where
    a live state costs 5-20 KiB of Python objects, but a live state spares the whole read back (the read and
    the decoding), a block only the file. At a million names a read of a state not in it went to the file (a
    read and an LZ4 block decoded: 20-30 us a read with 64 MiB, ~10 us with 256). Paired in-process runs late
    in a million-name `bench/scale.py` put the balance at 128 MiB with 35,000 live states: 6.5% faster and
    27 MiB smaller than 256 MiB with 25,000 (40,000 with 128 MiB: 2-9% faster, 22 MiB larger); since history
    entries share their repeated strings (state format 7) 50,000 live states take less memory than 35,000 did,
    and are 6-9% faster than 35,000. The first store opened in the process sizes it."""
    global _cache
    if _cache is None:
        _cache = Cache(block_cache_bytes)
    table = BlockBasedOptions()
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)
    table.set_block_cache(_cache)
    table.set_cache_index_and_filter_blocks(True)  # their memory counts against the cache, not outside it
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    options = Options(raw_mode=True)
    options.set_block_based_table_factory(table)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(2)
    options.set_compression_type(DBCompressionType.lz4())  # JSON states shrink about 3x
    options.set_keep_log_file_num(2)
    # A bloom filter over each memtable's keys too: a read of a name never seen (half the reads at a million
    # names) otherwise searched both memtables' skip lists before the files' filters said no (15 -> 10 us a read)
    options.set_memtable_whole_key_filtering(True)
    options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO)
    return options


class RocksStore:
    def __init__(self, path: Path, partition: int, read_only: bool = False,
                 block_cache_bytes: int = BLOCK_CACHE_BYTES) -> None:
        """``read_only``: open the store as it stands without taking its lock (a worker may hold it); writes are
        refused, and a path with no store is an error rather than a new store."""
        self.partition = partition
        self.location = str(path)
        if read_only and not (path / "CURRENT").is_file():
            raise StoreError(f"cannot open the state store {path}: there is none")
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            # a read-only open replays the write-ahead log (the worker's latest writes) instead of refusing it
            access = AccessType.read_only(False) if read_only else AccessType.read_write()
            self._db = Rdict(str(path), options=_options(block_cache_bytes), access_type=access,
                             column_families={_TIMERS: Options(raw_mode=True), _META: Options(raw_mode=True)})
        except Exception as exc:  # rocksdict raises plain Exception: a held lock, a corrupt or unreadable store
            kind = StoreLocked if "lock" in str(exc).lower() else StoreError
            raise kind(f"cannot open the state store {path}: {exc}") from exc
        self._open_families()

    def _open_families(self) -> None:
        self._timers = self._db.get_column_family(_TIMERS)
        self._meta = self._db.get_column_family(_META)
        self._timers_handle = self._db.get_column_family_handle(_TIMERS)
        self._meta_handle = self._db.get_column_family_handle(_META)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return self._db.items()

    def timers(self) -> Iterator[tuple[bytes, bytes]]:
        return self._timers.items()

    def offset(self) -> int:
        raw = self._meta.get(_OFFSET)
        return 0 if raw is None else int(raw)

    def identity(self) -> StoreIdentity | None:
        return StoreIdentity.load(self._meta.get(_IDENTITY))

    def meta(self, name: str) -> bytes | None:
        return self._meta.get(name.encode())

    def write(self, states: Mapping[bytes, bytes | None], timers: Mapping[bytes, bytes | None], offset: int | None,
              meta: Mapping[str, bytes] | None = None) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in states.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        for key, value in timers.items():
            if value is None:
                batch.delete(key, self._timers_handle)
            else:
                batch.put(key, value, self._timers_handle)
        if offset is not None:
            batch.put(_OFFSET, str(offset).encode(), self._meta_handle)
        for name, value in (meta or {}).items():
            batch.put(name.encode(), value, self._meta_handle)
        try:
            self._db.write(batch)
        except Exception as exc:  # a full disk, a read-only file system
            raise StoreError(f"cannot write the state store {self.location}: {exc}") from exc

    def reset(self, identity: StoreIdentity) -> None:
        """Everything deleted (ranges, not the files: the database stays open), then the new identity."""
        try:
            for family in (self._db, self._timers, self._meta):
                first = next(family.keys(), None)
                if first is not None:
                    last = next(family.keys(backwards=True))
                    family.delete_range(first, last)
                    family.delete(last)
        except Exception as exc:
            raise StoreError(f"cannot reset the state store {self.location}: {exc}") from exc
        self.write({}, {}, 0, {_IDENTITY.decode(): identity.dump()})

    def claim(self, identity: StoreIdentity) -> None:
        self.write({}, {}, None, {_IDENTITY.decode(): identity.dump()})

    def disk_bytes(self) -> int:
        total = 0
        for root, _, files in os.walk(self.location):
            total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
        return total

    def close(self) -> None:
        # the column family objects hold the database open: drop them first, or its lock outlives close()
        del self._timers, self._meta, self._timers_handle, self._meta_handle
        self._db.close()
        del self._db
