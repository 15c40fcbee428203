"""Produce records to Kafka and wait for the broker's acknowledgement."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaProducer

from connectors.collector import metrics
from leadflow.config import Config
from schemas.codec import Codec
from schemas.records import Interaction, RejectedInput


class Publisher:
    def __init__(self, config: Config, producer: AIOKafkaProducer, codec: Codec) -> None:
        self._producer = producer
        self._codec = codec
        self._interactions = config.topic("interactions")
        self._rejected = config.topic("rejected")

    async def interactions(self, records: list[Interaction]) -> None:
        """Returns once the broker has acknowledged every record (acks=all)."""
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
        await self._producer.send_and_wait(self._rejected, value=self._codec.encode(record, self._rejected))
