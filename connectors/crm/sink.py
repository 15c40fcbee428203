"""`leadflow sink`: consume lead and SLA events, write them in batches, commit offsets only after the database
commit."""

from __future__ import annotations

import asyncio
import logging
import random
import time

import psycopg
from aiokafka import AIOKafkaConsumer

from connectors.crm import metrics
from connectors.crm.postgres import write_leads, write_sla
from leadflow.config import Config
from leadflow.kafka import new_consumer
from schemas.codec import Codec, DecodeError
from schemas.records import LeadEvent, SlaEvent

log = logging.getLogger("leadflow.sink")
MAX_BATCH = 500
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 10.0


def backoff_delays(start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S):
    """Exponential backoff with full jitter, so many sinks do not retry in step."""
    delay = start
    while True:
        yield random.uniform(0, delay)
        delay = min(cap, delay * 2)


class CrmSink:
    def __init__(self, config: Config, codec: Codec) -> None:
        assert config.crm_dsn, "the sink needs LEADFLOW_CRM_DSN"
        self._config = config
        self._codec = codec
        self._conn: psycopg.AsyncConnection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = new_consumer(self._config, f"{self._config.topic_prefix}-sink", self._config.topic("leads"),
                                self._config.topic("sla"))
        await consumer.start()
        try:
            while not stop.is_set():
                await self._poll_once(consumer, stop)
        finally:
            await consumer.stop()
            if self._conn is not None:
                await self._conn.close()

    async def _poll_once(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        fetched = await consumer.getmany(timeout_ms=250, max_records=MAX_BATCH)
        metrics.READY.set(1 if consumer.assignment() else 0)
        records = [record for batch in fetched.values() for record in batch]
        if not records:
            return
        events: list[LeadEvent] = []
        steps: list[SlaEvent] = []
        for record in records:
            try:
                event = self._codec.decode(record.value)
            except DecodeError as exc:
                metrics.RECORDS.labels("undecodable").inc()
                log.error("skipping undecodable lead event %s[%s]@%s: %s", record.topic, record.partition,
                          record.offset, exc)
                continue
            if isinstance(event, LeadEvent):
                events.append(event)
            elif isinstance(event, SlaEvent):
                steps.append(event)
        if (events or steps) and not await self._write(events, steps, stop):
            return  # stopping before the write succeeded: leave offsets uncommitted
        await consumer.commit()
        metrics.RECORDS.labels("written").inc(len(events) + len(steps))

    async def _write(self, events: list[LeadEvent], steps: list[SlaEvent], stop: asyncio.Event) -> bool:
        delays = backoff_delays()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                conn = await self._connection()
                if events:
                    await write_leads(conn, events)
                if steps:
                    await write_sla(conn, steps)
                metrics.WRITES.inc()
                metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
                return True
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                await self._drop_connection()
                delay = next(delays)
                metrics.RETRIES.inc()
                log.warning("CRM database unavailable (%s); retrying in %.1fs", str(exc).strip()[:200], delay)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
        return False

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._config.crm_dsn, autocommit=True,
                                                               connect_timeout=5)
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            except Exception:
                pass
        self._conn = None
