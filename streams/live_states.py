"""The worker's live prospect states: a bounded cache over the partitions' stores.

A prospect the worker touched lately is a live ``ProspectState`` here; any other is read
from its partition's store (and decoded) on first touch. The
cache keeps at most ``limit`` prospects once ``trim`` runs (after each checkpoint), least
recently used out first, and never one whose changes are not in the store yet: a 5M-name
database costs the disk, and the memory of the prospects that are active.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Collection, Iterator, MutableMapping


class LiveStates(MutableMapping[bytes, object]):
    def __init__(self, stored: Callable[[bytes, int | None], object | None], limit: int,
                 on_evict: Callable[[bytes, None], object] = lambda key, default: None) -> None:
        """``stored`` reads a prospect from its store; ``on_evict(key, None)`` hears of every prospect let go."""
        self._items: OrderedDict[bytes, object] = OrderedDict()
        self._stored = stored
        self._on_evict = on_evict
        self.limit = limit
        self._reads = 0  # prospects read from a store since ``reads`` was last asked

    def get(self, key: bytes, default: object = None) -> object:  # type: ignore[override]
        return self.fetch(key, None, default)

    def fetch(self, key: bytes, partition: int | None, default: object = None) -> object:
        """``get``, for a caller that knows the prospect's partition."""
        items = self._items
        value = items.get(key)
        if value is not None:
            items.move_to_end(key)
            return value
        value = self._stored(key, partition)
        if value is None:
            return default
        self._reads += 1
        items[key] = value
        return value

    def reads(self) -> int:
        """How many prospects were read from a store (not found in the cache) since the last call."""
        reads, self._reads = self._reads, 0
        return reads

    def __getitem__(self, key: bytes) -> object:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: object) -> None:
        self._items[key] = value
        self._items.move_to_end(key)

    def __delitem__(self, key: bytes) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[bytes]:
        """The cached keys only (the stores hold the rest)."""
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def discard(self, key: bytes) -> None:
        self._items.pop(key, None)
        self._on_evict(key, None)

    def drop(self, keep: Callable[[bytes], bool]) -> None:
        """Forget every cached prospect ``keep`` refuses (partitions handed to another worker)."""
        for key in [k for k in self._items if not keep(k)]:
            del self._items[key]
            self._on_evict(key, None)

    def trim(self, pinned: Collection[bytes]) -> int:
        """Evict the least recently used prospects beyond the limit, except ``pinned`` ones (changed since the
        last store write); how many were evicted."""
        items = self._items
        excess = len(items) - self.limit
        if excess <= 0:
            return 0
        evicted = []
        for key in items:
            if key not in pinned:
                evicted.append(key)
                if len(evicted) == excess:
                    break
        for key in evicted:
            del items[key]
            self._on_evict(key, None)
        return len(evicted)
