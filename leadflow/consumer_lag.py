"""Consumer lag per partition, the first thing ops look at: how far a stage is behind its input.

Shared by the worker and the sink; each exports it for its own group. Lag is the
partition's high watermark, as of the consumer's last fetch, minus the consumer's
position (the next record it will process).
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import Gauge

LAG = Gauge("leadflow_consumer_lag_records", "Records on a partition not yet processed by the group, per partition",
            ["group", "topic", "partition"])
EVERY_S = 1.0


class LagGauge:
    """Refreshes the group's lag at most once a second; forgets partitions no longer assigned."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._shown: set[TopicPartition] = set()
        self._next = 0.0

    async def refresh(self, consumer: AIOKafkaConsumer) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + EVERY_S
        assigned = consumer.assignment()
        for tp in self._shown - assigned:
            LAG.remove(self.group, tp.topic, str(tp.partition))
        self._shown &= assigned
        for tp in assigned:
            end = consumer.highwater(tp)
            if end is None:  # nothing fetched from it yet
                continue
            try:
                position = await consumer.position(tp)
            except IllegalStateError:  # revoked while we asked
                continue
            LAG.labels(self.group, tp.topic, str(tp.partition)).set(max(0, end - position))
            self._shown.add(tp)
