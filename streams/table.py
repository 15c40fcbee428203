"""The prospects table: live states of the assigned partitions, backed by a compacted changelog topic.

The changelog is partitioned like the input topics (same key, same partitioner), so the
worker that owns input partition p owns changelog partition p: on assignment it reads
that partition back to its end, on revocation it forgets it. States stay bytes until a
prospect is next touched, so recovering a large partition is a read, not a decode.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator

from leadflow.config import Config
from leadflow.partitioner import partition_of
from streams.batch import Record, live_state
from streams.core.prospect import ProspectState
from streams.state_codec import dump_state
from streams.state_reader import changelog_topic, read_latest


class ProspectTable:
    """``states`` maps prospect key to a live state, or to bytes not decoded since recovery."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.topic = changelog_topic(config)
        self.states: dict[bytes, object] = {}
        self.partitions: set[int] = set()

    def partition_of(self, key: bytes) -> int:
        return partition_of(key, self._config.partitions)

    def keys(self, partitions: Iterable[int] | None = None) -> Iterator[bytes]:
        wanted = None if partitions is None else set(partitions)
        return iter([k for k in self.states if wanted is None or self.partition_of(k) in wanted])

    async def recover(self, partitions: set[int]) -> tuple[int, float]:
        """Read the newest state of every key of ``partitions``; (keys read, seconds)."""
        started = time.perf_counter()
        latest = await read_latest(self._config, sorted(partitions)) if partitions else {}
        for key, value in latest.items():
            if value is None:
                self.states.pop(key, None)
            else:
                self.states[key] = value
        self.partitions |= partitions
        return len(latest), time.perf_counter() - started

    def forget(self, partitions: set[int]) -> None:
        for key in self.keys(partitions):
            del self.states[key]
        self.partitions -= partitions

    def records(self, changed: dict[bytes, int]) -> list[list[Record]]:
        """The changed states as changelog records, in the groups to send one after the other."""
        return self.groups({key: (partition, dump_state(self.states[key]))  # type: ignore[arg-type]
                            for key, partition in changed.items()})

    def groups(self, dumped: dict[bytes, tuple[int, bytes]]) -> list[list[Record]]:
        """Serialized states (key -> (partition, state)) as changelog records, in the groups to send one after
        the other. On a broker that reports a partition's end as its last batch's base offset + 1 (the embedded
        one), each partition's last record goes alone, so recovery reads to the real end."""
        records = [Record(self.topic, key, value, partition) for key, (partition, value) in dumped.items()]
        if not self._config.kafka.seal_changelog:
            return [records]
        sealed = {r.partition: r for r in records}
        return [[r for r in records if sealed.get(r.partition) is not r], list(sealed.values())]

    def live(self, key: bytes) -> ProspectState | None:
        """The prospect's state, decoded on first use after recovery; None for a prospect never seen."""
        return live_state(self.states, key)
