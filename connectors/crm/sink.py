"""`leadflow sink`: consume lead and SLA events, deliver them to the CRM target in batches, dead-letter what
can never be delivered or decoded, and commit offsets only after the target (and the dead-letter topic) has them.

The consuming, decoding, dead-lettering and committing is the shared stage's (``leadflow.stage``); this module
is what the sink does with a batch: hand it to the target and say which records the target refused."""

from __future__ import annotations

import asyncio
import logging
import time

from connectors.crm import metrics
from connectors.crm.dead_letters import waiting
from connectors.crm.delivery import Delivery, Target
from connectors.crm.feedback_table import FeedbackTable
from connectors.crm.postgres import PostgresTarget
from connectors.crm.webhook import WebhookTarget
from leadflow.clock import Clock, system_clock
from leadflow.config import Config
from leadflow.consumer_lag import LagGauge
from leadflow.kafka import new_consumer, new_producer
from leadflow.stage import Failure, Inputs, Stage, pause
from schemas.codec import Codec
from schemas.records import DeadLetter, LeadEvent, Record, SlaEvent

log = logging.getLogger("leadflow.sink")
MAX_BATCH = 500
POLL_MS = 250
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
        stage: Stage[Record] = Stage(consumer, producer, self._codec, dlq_topic=self._dlq, target=self._target.name,
                                     decode=self._codec.decode, handle=self._deliver,
                                     on_dead_lettered=self._dead_lettered, batch_size=MAX_BATCH, poll_ms=POLL_MS,
                                     clock=self._clock)  # commits each batch once the target and the DLQ have it
        feedback = None
        if self._config.crm_dsn:
            table = FeedbackTable(self._config, self._codec, producer, self._clock)
            feedback = asyncio.create_task(table.run(stop), name="crm-feedback-table")
        dlq_size = asyncio.create_task(self._watch_dead_letters(stop), name="dlq-size")

        async def between_batches() -> None:
            metrics.READY.set(1 if consumer.assignment() else 0)
            await lag.refresh(consumer)
            if feedback is not None and feedback.done():
                feedback.result()  # an unexpected error there stops the sink, loudly

        try:
            await stage.run(stop, between=between_batches)
        finally:
            dlq_size.cancel()
            if feedback is not None:
                feedback.cancel()
            await asyncio.gather(dlq_size, *([feedback] if feedback else []), return_exceptions=True)
            await consumer.stop()
            await producer.stop()
            await self._target.close()

    async def _deliver(self, inputs: Inputs[Record], stop: asyncio.Event) -> list[Failure] | None:
        """The batch to the target; the records it refused (and any that is no lead or SLA event) to be
        dead-lettered, or None when the sink stopped before the target had the batch."""
        items: list[Delivery] = []
        failures: list[Failure] = []
        for record, event in inputs.decoded:
            if isinstance(event, (LeadEvent, SlaEvent)):
                items.append(Delivery(record, event))
            else:
                failures.append(Failure(record, f"not a lead or SLA event: {type(event).__name__}", 0))
        if items:
            started = time.perf_counter()
            refused = await self._target.deliver(items, stop)
            if refused is None:
                return None  # stopping before the batch was delivered: leave its offsets uncommitted
            metrics.WRITES.inc()
            metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
            self._observe_latency(items, {(f.record.topic, f.record.partition, f.record.offset) for f in refused})
            metrics.RECORDS.labels("written").inc(len(items) - len(refused))
            failures += refused
        return failures

    def _dead_lettered(self, letters: list[DeadLetter]) -> None:
        metrics.DEAD_LETTERS.labels(self._target.name).inc(len(letters))
        metrics.RECORDS.labels("dead_lettered").inc(len(letters))

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
