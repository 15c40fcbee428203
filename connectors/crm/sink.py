"""`leadflow sink`: consume lead and SLA events, deliver them to the CRM target in batches, dead-letter what
can never be delivered, and commit offsets only after the target (and the dead-letter topic) has them."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from leadflow.clock import Clock, system_clock
from connectors.crm import metrics
from connectors.crm.dead_letters import dead_letter, waiting
from connectors.crm.delivery import Delivery, Failure, Target, backoff_delays, pause
from connectors.crm.feedback_table import FeedbackTable
from connectors.crm.postgres import PostgresTarget
from connectors.crm.webhook import WebhookTarget
from leadflow.config import Config
from leadflow.consumer_lag import LagGauge
from leadflow.kafka import new_consumer, new_producer
from schemas.codec import Codec, DecodeError
from schemas.records import LeadEvent, SlaEvent

log = logging.getLogger("leadflow.sink")
MAX_BATCH = 500
DLQ_SIZE_EVERY_S = 30.0


def target_for(config: Config) -> Target:
    if config.sink.target == "webhook":
        assert config.secrets.webhook_secret, "the webhook target needs LEADFLOW_WEBHOOK_SECRET"
        return WebhookTarget(config.sink, config.secrets.webhook_secret)
    assert config.crm_dsn, "the postgres target needs LEADFLOW_CRM_DSN"
    return PostgresTarget(config.crm_dsn)


class CrmSink:
    def __init__(self, config: Config, codec: Codec, target: Target | None = None,
                 clock: Clock = system_clock) -> None:
        self._config = config
        self._codec = codec
        self._target = target or target_for(config)
        self._clock = clock
        self._dlq = config.topic("sink-dlq")

    async def run(self, stop: asyncio.Event) -> None:
        metrics.start_at_zero(self._target.name)
        lag = LagGauge(f"{self._config.topic_prefix}-sink")
        consumer = new_consumer(self._config, lag.group, self._config.topic("leads"), self._config.topic("sla"))
        producer = new_producer(self._config)
        await producer.start()
        await consumer.start()
        feedback = None
        if self._config.crm_dsn:
            table = FeedbackTable(self._config, self._codec, producer, self._clock)
            feedback = asyncio.create_task(table.run(stop), name="crm-feedback-table")
        dlq_size = asyncio.create_task(self._watch_dead_letters(stop), name="dlq-size")
        try:
            while not stop.is_set():
                await self._poll_once(consumer, producer, stop)
                await lag.refresh(consumer)
                if feedback is not None and feedback.done():
                    feedback.result()  # an unexpected error there stops the sink, loudly
        finally:
            dlq_size.cancel()
            if feedback is not None:
                feedback.cancel()
            await asyncio.gather(dlq_size, *([feedback] if feedback else []), return_exceptions=True)
            await consumer.stop()
            await producer.stop()
            await self._target.close()

    async def _poll_once(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        fetched = await consumer.getmany(timeout_ms=250, max_records=MAX_BATCH)
        metrics.READY.set(1 if consumer.assignment() else 0)
        records = [record for batch in fetched.values() for record in batch]
        if not records:
            return
        items: list[Delivery] = []
        failures: list[Failure] = []
        for record in records:
            try:
                event = self._codec.decode(record.value)
            except DecodeError as exc:
                failures.append(Failure(record, f"undecodable: {exc}", 0))
                continue
            if isinstance(event, (LeadEvent, SlaEvent)):
                items.append(Delivery(record, event))
            else:
                failures.append(Failure(record, f"not a lead or SLA event: {type(event).__name__}", 0))
        if items:
            started = time.perf_counter()
            refused = await self._target.deliver(items, stop)
            if refused is None:
                return  # stopping before the batch was delivered: leave its offsets uncommitted
            metrics.WRITES.inc()
            metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
            self._observe_latency(items, {(f.record.topic, f.record.partition, f.record.offset) for f in refused})
            failures += refused
        if failures and not await self._dead_letter(producer, failures, stop):
            return
        await consumer.commit()
        metrics.RECORDS.labels("written").inc(len(records) - len(failures))
        if failures:
            metrics.RECORDS.labels("dead_lettered").inc(len(failures))

    async def _watch_dead_letters(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                metrics.DLQ_WAITING.set(await waiting(self._config))
            except Exception as exc:  # a gauge must never stop the sink
                log.warning("could not measure the dead-letter topic (%s)", exc)
            await pause(stop, DLQ_SIZE_EVERY_S)

    def _observe_latency(self, items: list[Delivery], refused: set[tuple[str, int, int]]) -> None:
        now_s = self._clock() / 1000
        for item in items:
            if (item.record.topic, item.record.partition, item.record.offset) not in refused:
                metrics.END_TO_END_SECONDS.observe(max(0.0, now_s - item.event.received_at / 1000))

    async def _dead_letter(self, producer: AIOKafkaProducer, failures: list[Failure], stop: asyncio.Event) -> bool:
        """Every failure on the dead-letter topic, acknowledged, before the offsets move past it."""
        letters = [dead_letter(f.record, f.error, self._target.name, f.attempts, self._clock()) for f in failures]
        delays = backoff_delays()
        while not stop.is_set():
            try:
                for letter in letters:  # one at a time: few, and each its own batch keeps end offsets exact
                    await producer.send_and_wait(self._dlq, key=letter.key, value=self._codec.encode(letter, self._dlq))
                metrics.DEAD_LETTERS.labels(self._target.name).inc(len(letters))
                for letter in letters:
                    log.error("dead-lettered %s[%s]@%s: %s", letter.source_topic, letter.source_partition,
                              letter.source_offset, letter.error[:300])
                return True
            except KafkaError as exc:
                delay = next(delays)
                log.warning("dead-letter topic unavailable (%s); retrying in %.1fs", exc, delay)
                await pause(stop, delay)
        return False
