"""`leadflow actions`: consume ``leadflow.actions`` and make each action happen once: emails through the
provider (or the outbox), notifications, CRM tasks, webhooks.

Consuming, decoding, dead-lettering and committing are the shared stage's (``leadflow.stage``); this module is
what the delivery does with a batch:

- each prospect's actions in order, ``LEADFLOW_ACTIONS_CONCURRENCY`` prospects at once;
- an action already in the log (``connectors.actions.log``) is not done again: at least once in, once out;
- an action due later waits in the log, not in memory, and the scheduler here takes it when it is due;
- an email is checked again at send time (``send_time``), then sent; one that may not go is recorded as
  suppressed with the reason, and the worker hears of it (an ``action.suppressed`` report on the interactions
  topic, a line in the prospect's automation journal);
- a call that fails for good (a 4xx, a template that does not render, attempts used up) dead-letters that
  action alone, with the cause: the others of its batch go on (``leadflow dlq list|replay`` cover it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.structs import ConsumerRecord

from connectors.actions import metrics
from connectors.actions.channels import Channels, Delivered
from connectors.actions.log import DONE, DeliveryLog
from connectors.actions.send_time import SendTime
from connectors.actions.suppressions import SuppressionFeed
from leadflow.clock import Clock, system_clock
from leadflow.config import Config
from leadflow.consumer_lag import LagGauge
from leadflow.kafka import new_consumer, new_producer
from leadflow.outbound import AttemptFailed, Stopped
from leadflow.stage import Failure, Inputs, Stage, dead_letter, pause
from schemas.codec import Codec, DecodeError
from schemas.records import Action, Interaction
from streams.core.automation_index import Engine
from streams.core.automations import DELIVERY_REPORT

log = logging.getLogger("leadflow.actions")
MAX_BATCH = 200
POLL_MS = 250
SCHEDULER_EVERY_S = 1.0
EARLY_MS = 1_000  # an action due less than this ahead goes now (clocks differ by that much)
INTERNAL = frozenset({"tag", "untag", "set_attribute", "points", "enroll", "unenroll"})  # the engine applied these
TARGET = "actions"  # the dead letters' target name


class ActionDelivery:
    def __init__(self, config: Config, codec: Codec, engine: Engine, channels: Channels | None = None,
                 clock: Clock = system_clock) -> None:
        assert config.crm_dsn, "the action delivery keeps its log in the CRM database (LEADFLOW_CRM_DSN)"
        self._config = config
        self._codec = codec
        self._clock = clock
        self._log = DeliveryLog(config.crm_dsn)
        self._channels = channels or Channels(config, engine)
        self._send_time = SendTime(config, engine, self._log)
        self._topic = config.topic("actions")
        self._producer: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        metrics.start_at_zero()
        lag = LagGauge(f"{self._config.topic_prefix}-actions")
        consumer = new_consumer(self._config, lag.group, self._topic)
        self._producer = producer = new_producer(self._config)
        await producer.start()
        await consumer.start()
        stage: Stage[Any] = Stage(consumer, producer, self._codec, dlq_topic=self._config.topic("sink-dlq"),
                                  target=TARGET, decode=self._codec.decode, handle=self._deliver_batch,
                                  on_dead_lettered=lambda letters: None, batch_size=MAX_BATCH, poll_ms=POLL_MS,
                                  clock=self._clock)
        feed = SuppressionFeed(self._config, self._codec, self._log)
        helpers = [asyncio.create_task(self._scheduler(stop), name="actions-scheduler"),
                   asyncio.create_task(feed.run(stop), name="actions-suppressions")]

        async def between_batches() -> None:
            metrics.READY.set(1 if consumer.assignment() else 0)
            await lag.refresh(consumer)
            for task in helpers:
                if task.done():
                    task.result()  # an unexpected error there stops the delivery, loudly

        try:
            await stage.run(stop, between=between_batches)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await consumer.stop()
            await producer.stop()
            await self._channels.close()
            await self._log.close()

    # --- a batch from the topic ---------------------------------------------------------------------------

    async def _deliver_batch(self, inputs: Inputs[Any], stop: asyncio.Event) -> list[Failure] | None:
        failures: list[Failure] = []
        by_prospect: dict[bytes | None, list[tuple[ConsumerRecord, Action]]] = {}
        seen: set[str] = set()
        for record, value in inputs.decoded:
            if not isinstance(value, Action):
                failures.append(Failure(record, f"not an Action: {type(value).__name__}", 0))
            elif value.action_id in seen:  # a redelivery within the batch: the first copy stands for it
                metrics.ACTIONS.labels(value.type, "duplicate").inc()
            else:
                seen.add(value.action_id)
                by_prospect.setdefault(record.key, []).append((record, value))
        actions = [a for group in by_prospect.values() for _, a in group]
        try:
            statuses = await self._log.statuses([a.action_id for a in actions if a.type not in INTERNAL], stop)
            gate = asyncio.Semaphore(self._config.actions.actions_concurrency)
            results = await asyncio.gather(*(self._in_order(group, statuses, gate, stop)
                                             for group in by_prospect.values()))
        except Stopped:
            return None  # stopping before the batch was done: its offsets stay uncommitted, it is read again
        return failures + [f for result in results for f in result]

    async def _in_order(self, group: list[tuple[ConsumerRecord, Action]], statuses: dict[str, str],
                        gate: asyncio.Semaphore, stop: asyncio.Event) -> list[Failure]:
        failures = []
        async with gate:
            for record, action in group:
                error = await self._take(action, statuses.get(action.action_id), record.value, stop)
                if error is not None:
                    failures.append(Failure(record, error.reason, error.attempts))
        return failures

    async def _take(self, action: Action, status: str | None, encoded: bytes | None,
                    stop: asyncio.Event) -> "_Failed | None":
        """One action read from the topic: done already, for later, or now."""
        if action.type in INTERNAL:
            metrics.ACTIONS.labels(action.type, "internal").inc()
            return None
        if status in DONE or status == "scheduled":
            metrics.ACTIONS.labels(action.type, "duplicate").inc()
            return None
        if action.due_at > self._clock() + EARLY_MS:
            await self._schedule(action, action.due_at, encoded or self._codec.encode(action, self._topic), stop)
            return None
        return await self._deliver(action, stop)

    # --- one action ---------------------------------------------------------------------------------------

    async def _deliver(self, action: Action, stop: asyncio.Event) -> "_Failed | None":
        """Check, then deliver; record the outcome. Returns the failure to dead-letter, if any."""
        marketing = action.type == "send_email" and action.payload.get("transactional") != "true"
        if action.type == "send_email":
            reason = await self._send_time.refusal(action, marketing, stop)
            if reason is not None:
                await self._suppressed(action, reason, stop)
                return None
            later = self._send_time.quiet_until(action, self._clock())
            if later is not None:
                await self._schedule(action, later, self._codec.encode(action, self._topic), stop)
                return None
        attempts = {"n": 0}

        def counted() -> None:
            attempts["n"] += 1
        try:
            done: Delivered = await self._channels.deliver(action, stop, counted)
        except AttemptFailed as failure:
            metrics.ACTIONS.labels(action.type, "dead_lettered").inc()
            log.error("action %s (%s %s) failed: %s", action.action_id, action.type, action.source, failure.reason)
            return _Failed(failure.reason, max(1, attempts["n"]))
        await self._log.record(action_id=action.action_id, prospect_id=action.prospect_id, type_=action.type,
                               source=action.source, status=done.status, channel=done.channel,
                               marketing=marketing, due_at=action.due_at, detail=done.detail,
                               attempts=max(1, attempts["n"]), encoded=None, stop=stop)
        metrics.ACTIONS.labels(action.type, done.status).inc()
        metrics.LATENCY_SECONDS.observe(max(0.0, (self._clock() - action.due_at) / 1000))
        return None

    async def _schedule(self, action: Action, due_at: int, encoded: bytes, stop: asyncio.Event) -> None:
        await self._log.record(action_id=action.action_id, prospect_id=action.prospect_id, type_=action.type,
                               source=action.source, status="scheduled", channel=None, marketing=False,
                               due_at=due_at, detail=None, attempts=0, encoded=encoded, stop=stop)
        metrics.ACTIONS.labels(action.type, "scheduled").inc()

    async def _suppressed(self, action: Action, reason: str, stop: asyncio.Event) -> None:
        """Recorded as suppressed in the log and, through the worker, in the prospect's journal."""
        report = Interaction(
            event_id=f"suppressed:{action.action_id}", prospect_key=action.prospect_id,
            prospect_id=action.prospect_id, type=DELIVERY_REPORT, occurred_at=self._clock(),
            received_at=self._clock(), source="actions", message_id=action.action_id, machine=True,
            properties={"type": action.type, "target": action.target or "", "source": action.source,
                        "reason": reason})
        topic = self._config.topic("interactions")
        await self._producer.send_and_wait(topic, key=action.prospect_id.encode(),
                                           value=self._codec.encode(report, topic))
        await self._log.record(action_id=action.action_id, prospect_id=action.prospect_id, type_=action.type,
                               source=action.source, status="suppressed", channel=None, marketing=False,
                               due_at=action.due_at, detail=reason, attempts=0, encoded=None, stop=stop)
        metrics.ACTIONS.labels(action.type, "suppressed").inc()
        metrics.SUPPRESSED.labels(reason).inc()

    # --- actions due later --------------------------------------------------------------------------------

    async def _scheduler(self, stop: asyncio.Event) -> None:
        """Every second: the scheduled actions now due, delivered like the topic's (a failure is dead-lettered
        with the action as its payload, so ``leadflow dlq replay`` puts it back on the actions topic)."""
        while not await pause(stop, SCHEDULER_EVERY_S):
            try:
                metrics.SCHEDULED.set(await self._log.scheduled(stop))
                for encoded in await self._log.due(self._clock(), MAX_BATCH, stop):
                    try:
                        action = self._codec.decode(encoded)
                    except DecodeError as exc:
                        log.error("a scheduled action cannot be read (%s); left in the log", exc)
                        continue
                    failed = await self._deliver(action, stop) if isinstance(action, Action) else None
                    if failed is not None:
                        await self._dead_letter_scheduled(action, encoded, failed, stop)
            except Stopped:
                return

    async def _dead_letter_scheduled(self, action: Action, encoded: bytes, failed: "_Failed",
                                     stop: asyncio.Event) -> None:
        record = ConsumerRecord(self._topic, -1, -1, self._clock(), 0, action.prospect_id.encode(), encoded,
                                None, 0, len(encoded), [])
        letter = dead_letter(record, failed.reason, TARGET, failed.attempts, self._clock())
        dlq = self._config.topic("sink-dlq")
        await self._producer.send_and_wait(dlq, key=letter.key, value=self._codec.encode(letter, dlq))
        await self._log.record(action_id=action.action_id, prospect_id=action.prospect_id, type_=action.type,
                               source=action.source, status="failed", channel=None, marketing=False,
                               due_at=action.due_at, detail=failed.reason[:300], attempts=failed.attempts,
                               encoded=None, stop=stop)  # not done: a replay of the dead letter delivers it


class _Failed:
    __slots__ = ("reason", "attempts")

    def __init__(self, reason: str, attempts: int) -> None:
        self.reason, self.attempts = reason, attempts

