"""Produce to Kafka, or spool to disk while Kafka cannot take records, and replay in order.

``send`` returns once every record is acknowledged by the broker (acks=all) or, while
Kafka is unreachable, fsynced to the spool. While anything is spooled, new records
queue behind it so per-prospect order holds. Replays may duplicate records whose
acknowledgement was lost; downstream de-duplicates by ``event_id``.

Rejected inputs have a spool of their own with its own, smaller budget
(LEADFLOW_REJECTED_SPOOL_MAX_BYTES): anyone can send junk, and junk must never take the
room accepted events need during an outage. When that budget is spent, further
rejections are dropped and counted, never answered with a 503.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer

from connectors.collector import metrics
from connectors.collector.spool import Spool, SpooledRecord
from leadflow.config import Config
from leadflow.kafka import new_producer, send_batched
from schemas.codec import Codec
from schemas.records import CrmFeedback, Interaction, RejectedInput

log = logging.getLogger("leadflow.collector")
PRODUCE_TIMEOUT_S = 5.0
REPLAY_BATCH = 500
DRAIN_ON_STOP_S = 5.0


class SpoolFull(RuntimeError):
    """Kafka is unreachable and the spool reached LEADFLOW_SPOOL_MAX_BYTES."""


class Publisher:
    def __init__(self, config: Config, codec: Codec, spool: Spool, orphans: list[Spool] | None = None,
                 rejects: Spool | None = None, reject_orphans: list[Spool] | None = None) -> None:
        self._config = config
        self._codec = codec
        self._spool = spool
        self._orphans = list(orphans or [])
        self._rejects = rejects if rejects is not None else spool
        self._reject_orphans = list(reject_orphans or [])
        self._interactions = config.topic("interactions")
        self._rejected = config.topic("rejected")
        self._feedback = config.topic("crm-feedback")
        self._producer: AIOKafkaProducer | None = None
        self._ready = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        metrics.SPOOL_RECORDS.set(spool.pending_records)
        metrics.REJECTED_SPOOL_RECORDS.set(self._rejects.pending_records if rejects is not None else 0)

    @property
    def kafka_ready(self) -> bool:
        return self._ready

    async def start(self) -> None:
        """Returns at once: the producer connects in the background and anything spooled is replayed."""
        self._task = asyncio.create_task(self._run(), name="publisher")

    async def stop(self) -> None:
        """Give the replay loop a few seconds to empty the spools (accepted events first, then rejections);
        what remains waits on disk for the next start."""
        deadline = asyncio.get_running_loop().time() + DRAIN_ON_STOP_S
        self._wake.set()
        while (self._spool.pending_records or self._rejects.pending_records) and \
                asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self._spool.pending_records:
            log.warning("%d spooled records kept on disk for the next start", self._spool.pending_records)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
        self._spool.close()
        self._rejects.close()  # what the deadline left is replayed after the next start

    async def partitions(self) -> int:
        if self._producer is None or not self._ready:
            raise ConnectionError("producer not connected")
        return len(await self._producer.partitions_for(self._interactions))

    async def interactions(self, records: list[Interaction]) -> None:
        await self.send([SpooledRecord(self._interactions, r.prospect_key.encode(),
                                       self._codec.encode(r, self._interactions)) for r in records])

    async def verdicts(self, records: list[CrmFeedback]) -> None:
        await self.send([SpooledRecord(self._feedback, r.prospect_id.encode(), self._codec.encode(r, self._feedback))
                         for r in records])

    async def rejected(self, record: RejectedInput) -> None:
        """Produce, else spool within the rejections' own budget, else drop and count: never raises SpoolFull."""
        spooled = SpooledRecord(self._rejected, None, self._codec.encode(record, self._rejected))
        if self._rejects is self._spool:
            await self.send([spooled])
            return
        if self._ready and not self._rejects.pending_records:
            try:
                await asyncio.wait_for(self._produce([spooled]), PRODUCE_TIMEOUT_S)
                return
            except Exception as exc:
                self._ready = False
                log.warning("Kafka did not acknowledge (%s); spooling to disk", exc.__class__.__name__)
        size = len(spooled.value) + len(spooled.topic) + 16
        if self._rejects.pending_bytes + size > self._config.collector.rejected_spool_max_bytes:
            metrics.REJECTED_DROPPED.inc()
            return
        self._rejects.append([spooled])
        metrics.REJECTED_SPOOL_RECORDS.set(self._rejects.pending_records)
        self._wake.set()

    async def submit(self, records: list[Interaction]) -> None:
        """For pixels and clicks: the browser needs no acknowledgement, so do not wait for one.

        The record is handed to the producer; if the broker later refuses it, it goes to the spool.
        """
        spooled = [SpooledRecord(self._interactions, r.prospect_key.encode(),
                                 self._codec.encode(r, self._interactions)) for r in records]
        if not self._ready or self._spool.pending_records:
            await self.send(spooled)
            return
        assert self._producer is not None
        for record in spooled:
            try:
                delivery = await self._producer.send(record.topic, key=record.key, value=record.value)
            except Exception:
                await self.send([record])
                continue
            delivery.add_done_callback(lambda done, record=record: self._spool_if_failed(done, record))

    def _spool_if_failed(self, delivery: asyncio.Future, record: SpooledRecord) -> None:
        if delivery.cancelled() or delivery.exception() is not None:
            self._ready = False
            if self._spool.pending_bytes < self._config.collector.spool_max_bytes:
                self._spool.append([record])
                metrics.SPOOLED.inc()
                self._wake.set()
            else:
                metrics.SPOOL_FULL.inc()

    async def send(self, records: list[SpooledRecord]) -> None:
        if self._ready and not self._spool.pending_records:
            try:
                await asyncio.wait_for(self._produce(records), PRODUCE_TIMEOUT_S)
                return
            except Exception as exc:
                self._ready = False
                log.warning("Kafka did not acknowledge (%s); spooling to disk", exc.__class__.__name__)
        size = sum(len(r.value) + len(r.topic) + 16 for r in records)
        if self._spool.pending_bytes + size > self._config.collector.spool_max_bytes:
            metrics.SPOOL_FULL.inc()
            raise SpoolFull(f"spool holds {self._spool.pending_bytes} bytes")
        self._spool.append(records)
        metrics.SPOOLED.inc(len(records))
        metrics.SPOOL_RECORDS.set(self._spool.pending_records)
        self._wake.set()

    async def _produce(self, records: list[SpooledRecord]) -> None:
        assert self._producer is not None
        started = time.perf_counter()
        await send_batched(self._producer, [(r.topic, r.key, r.value, None) for r in records])
        metrics.PRODUCE_SECONDS.observe(time.perf_counter() - started)

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                if self._producer is None:
                    producer = new_producer(self._config)
                    try:
                        await producer.start()
                    except Exception:
                        await producer.stop()
                        raise
                    self._producer = producer
                    log.info("connected to Kafka")
                self._wake.clear()  # before draining: a record spooled meanwhile sets it again and is not missed
                while self._orphans:  # older than anything in our own spool: replay them first
                    await self._drain(self._orphans[0])
                    self._orphans.pop(0).close()
                if self._spool.pending_records:
                    await self._drain(self._spool)
                while self._reject_orphans:  # rejections after accepted events: they are only evidence
                    await self._drain(self._reject_orphans[0])
                    self._reject_orphans.pop(0).close()
                if self._rejects is not self._spool and self._rejects.pending_records:
                    await self._drain(self._rejects)
                    metrics.REJECTED_SPOOL_RECORDS.set(self._rejects.pending_records)
                self._ready = True
                delay = 0.2
                if not self._spool.pending_records:
                    await self._wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready = False
                log.warning("Kafka unavailable (%s); %d records spooled, retrying in %.1fs",
                            exc.__class__.__name__, self._spool.pending_records, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _drain(self, spool: Spool) -> None:
        while spool.pending_records:
            batch = spool.peek(REPLAY_BATCH)
            await asyncio.wait_for(self._produce(batch), PRODUCE_TIMEOUT_S * 2)
            spool.advance(len(batch))
            metrics.REPLAYED.inc(len(batch))
            metrics.SPOOL_RECORDS.set(self._spool.pending_records)
