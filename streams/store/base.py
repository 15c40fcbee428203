"""What a partition's store offers the table, and what it records about itself.

Why an identity: a store on disk outlives the process, the topic and even the cluster it
was filled from. Before trusting one, the worker checks that it was filled from this
changelog topic, with this many partitions, in this state format; a store that does not
say so is rebuilt from the changelog instead of serving another deployment's scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Collection, Iterator, Mapping, Protocol

import orjson

from leadflow.errors import LeadflowError


class StoreError(LeadflowError):
    """The store could not be read or written (a full disk, a directory the worker may not write): the worker
    stops before it commits offsets past states it could not keep."""


class StoreLocked(StoreError):
    """Another process holds the store open: the partition's previous owner, still handing it over."""


@dataclass(frozen=True)
class StoreIdentity:
    """Whose copy a store is: the changelog topic and partition count it was filled from, and the state format."""

    topic: str
    partitions: int
    partition: int
    state_format: int

    def dump(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def load(cls, data: bytes | None) -> StoreIdentity | None:
        try:
            return None if data is None else cls(**orjson.loads(data))
        except (orjson.JSONDecodeError, TypeError):
            return None  # written by something else: not ours

    def mismatch(self, stored: StoreIdentity | None, reads: Collection[int] = ()) -> str | None:
        """Why a store that says it is ``stored`` is not a copy of this partition; None when it is. ``reads``: the
        older state formats this version reads (a store of one is a copy, to ``claim`` for the current format)."""
        if stored is None:
            return "it has no identity (not written by a leadflow worker)"
        for field, wanted in asdict(self).items():
            found = getattr(stored, field)
            if found != wanted and not (field == "state_format" and found in reads):
                return f"its {field} is {found!r}, not {wanted!r}"
        return None


class PartitionStore(Protocol):
    """One changelog partition's prospect states (key -> the state as the changelog holds it), the timer index
    (key -> when the prospect next has something due), and the changelog offset the whole reflects."""

    partition: int
    location: str  # where it lives, for messages

    def get(self, key: bytes) -> bytes | None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]: ...

    def timers(self) -> Iterator[tuple[bytes, bytes]]: ...

    def offset(self) -> int:
        """The next changelog offset this store has not seen (0: empty)."""
        ...

    def identity(self) -> StoreIdentity | None: ...

    def meta(self, name: str) -> bytes | None: ...

    def write(self, states: Mapping[bytes, bytes | None], timers: Mapping[bytes, bytes | None], offset: int | None,
              meta: Mapping[str, bytes] | None = None) -> None:
        """States and timer entries (None deletes), the offset they reflect and other facts, all or nothing."""
        ...

    def reset(self, identity: StoreIdentity) -> None:
        """Empty the store and claim it for ``identity``, at offset 0."""
        ...

    def claim(self, identity: StoreIdentity) -> None:
        """Say the store is ``identity`` and keep what it holds (states of an older format this version reads:
        it writes the current one from now on, and a version that reads only the older one rebuilds it)."""
        ...

    def disk_bytes(self) -> int: ...

    def close(self) -> None: ...
