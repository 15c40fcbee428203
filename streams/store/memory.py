"""A partition store in a dict: for tests, and for a worker that rebuilds from the changelog on every start."""

from __future__ import annotations

from typing import Iterator, Mapping

from streams.store.base import StoreIdentity


class MemoryStore:
    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.location = f"memory (partition {partition})"
        self._states: dict[bytes, bytes] = {}
        self._timers: dict[bytes, bytes] = {}
        self._meta: dict[str, bytes] = {}
        self._offset = 0
        self._identity: StoreIdentity | None = None

    def get(self, key: bytes) -> bytes | None:
        return self._states.get(key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._states.items()))

    def timers(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._timers.items()))

    def offset(self) -> int:
        return self._offset

    def identity(self) -> StoreIdentity | None:
        return self._identity

    def meta(self, name: str) -> bytes | None:
        return self._meta.get(name)

    def write(self, states: Mapping[bytes, bytes | None], timers: Mapping[bytes, bytes | None], offset: int | None,
              meta: Mapping[str, bytes] | None = None) -> None:
        for target, items in ((self._states, states), (self._timers, timers)):
            for key, value in items.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        if offset is not None:
            self._offset = offset
        self._meta.update(meta or {})

    def reset(self, identity: StoreIdentity) -> None:
        self._states.clear()
        self._timers.clear()
        self._meta.clear()
        self._offset, self._identity = 0, identity

    def claim(self, identity: StoreIdentity) -> None:
        self._identity = identity

    def disk_bytes(self) -> int:
        return 0

    def close(self) -> None:
        pass
