"""The worker's local prospect store: one key-value database per changelog partition.

The changelog topic stays the source of truth; a partition's store is a copy of it as of a
changelog offset it records, so a restarted worker reads only the changelog's tail, and a
prospect the worker has not touched lately costs disk, not memory (``streams.table``).
``open_store`` picks the implementation the configuration names: RocksDB (``rocksdict``,
the default: it survives a restart) or memory (tests, and what the worker did before).
``open_read_only`` is for the readers beside the worker (``streams.state_reader``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from leadflow.config import Config
from streams.store.base import PartitionStore, StoreError, StoreIdentity, StoreLocked
from streams.store.memory import MemoryStore
from streams.store.rocks import RocksStore

__all__ = ["PartitionStore", "StoreError", "StoreIdentity", "StoreLocked", "MemoryStore", "RocksStore",
           "open_read_only", "open_store", "remove_store", "store_path"]


def open_store(config: Config, partition: int) -> PartitionStore:
    if config.state_store == "memory":
        return MemoryStore(partition)
    return RocksStore(store_path(config, partition), partition, block_cache_bytes=config.state_block_cache_bytes)


def open_read_only(config: Config, partition: int) -> PartitionStore | None:
    """The partition's store on this machine as it stands, without its lock (a running worker keeps it and goes
    on writing); None when there is none on disk. A memory store has no copy outside its worker: None."""
    if config.state_store == "memory":
        return None
    path = store_path(config, partition)
    if not path.is_dir():
        return None
    return RocksStore(path, partition, read_only=True, block_cache_bytes=config.state_block_cache_bytes)


def store_path(config: Config, partition: int) -> Path:
    return config.state_dir / config.topic_prefix / f"partition-{partition}"


def remove_store(config: Config, partition: int) -> None:
    """Delete a partition's store that cannot be opened (corrupt, or not a database at all)."""
    if config.state_store != "memory":
        shutil.rmtree(store_path(config, partition), ignore_errors=True)
