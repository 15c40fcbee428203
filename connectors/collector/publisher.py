"""Produce records to Kafka and wait for the broker's acknowledgement."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaProducer

from connectors.collector import metrics
from leadflow.config import Config
from leadflow.kafka import new_producer
from schemas.codec import Codec
from schemas.records import Interaction, RejectedInput


class Publisher:
    def __init__(self, config: Config, codec: Codec) -> None:
        self._config = config
        self._codec = codec
        self._interactions = config.topic("interactions")
        self._rejected = config.topic("rejected")
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Called inside the event loop: aiokafka binds its producer to the running loop."""
        self._producer = new_producer(self._config)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def partitions(self) -> int:
        assert self._producer is not None
        return len(await self._producer.partitions_for(self._interactions))

    async def interactions(self, records: list[Interaction]) -> None:
        """Returns once the broker has acknowledged every record (acks=all)."""
        assert self._producer is not None
        started = time.perf_counter()
        futures = [
            await self._producer.send(self._interactions, key=r.prospect_key.encode(),
                                      value=self._codec.encode(r, self._interactions))
            for r in records
        ]
        for future in futures:
            await future
        metrics.PRODUCE_SECONDS.observe(time.perf_counter() - started)

    async def rejected(self, record: RejectedInput) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(self._rejected, value=self._codec.encode(record, self._rejected))
