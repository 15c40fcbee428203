"""Notice when an input partition's records arrive with a hole in their offsets, so the shell can seek back.

A restarted worker's agent already receives inputs while its table recovers, and when
recovery completes Faust can skip a few records of a partition (see Known limits in the
README). The records of one partition are contiguous on Kafka unless a producer wrote
transaction markers, so a hole means records were skipped: the shell seeks back to the
first missing offset. Records fetched before that seek can still arrive after it (and
move Faust's read position past the hole again), so the same hole is retried a few
times; if it persists, the offsets really are missing and the records are taken.
"""

from __future__ import annotations

from typing import Hashable

RETRIES = 1000  # batches; records fetched before a seek can take many to drain


class OffsetGuard:
    def __init__(self, retries: int = RETRIES) -> None:
        self.retries = retries
        self._expected: dict[Hashable, int] = {}
        self._tries: dict[tuple[Hashable, int], int] = {}
        self._rewinding: dict[Hashable, int] = {}

    def reset(self) -> None:
        """After a rebalance positions legitimately move: start over."""
        self._expected.clear()
        self._tries.clear()
        self._rewinding.clear()

    def admit(self, partition: Hashable, offset: int) -> bool:
        """True to process this record; False when it lies past a hole (and so does the rest of its partition
        in this batch): the shell must seek the partition back to ``rewinds()[partition]``."""
        if partition in self._rewinding:
            return False
        expected = self._expected.get(partition)
        if expected is not None and offset > expected:
            tries = self._tries.get((partition, expected), 0)
            if tries < self.retries:
                self._tries[(partition, expected)] = tries + 1
                self._rewinding[partition] = expected
                return False
        if expected is None or offset >= expected:
            self._expected[partition] = offset + 1
        return True

    def rewinds(self) -> dict[Hashable, int]:
        """The partitions to seek back, and where to; cleared for the next batch."""
        out, self._rewinding = self._rewinding, {}
        return out
