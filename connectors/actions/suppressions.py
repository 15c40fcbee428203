"""The delivery's suppression list, fed from ``leadflow.interactions``: hard bounces, complaints and
unsubscribes, as the providers' webhooks and the collector's unsubscribe endpoint recorded them.

Its own consumer group (``<prefix>-actions-suppressions``) on the interactions topic; each record is read for
its type first and only the suppressing ones are kept (the engine's own rule, ``suppression()``), so the
volume of page views costs a decode, not a write. Offsets are committed after the rows are in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging

from connectors.actions.log import DeliveryLog
from leadflow.config import Config
from leadflow.kafka import new_consumer
from leadflow.outbound import Stopped
from leadflow.stage import Failure, Inputs, Stage
from schemas.codec import Codec
from schemas.records import Interaction
from streams.core.automation_triggers import suppression

log = logging.getLogger("leadflow.actions")
MAX_BATCH = 1000


class SuppressionFeed:
    def __init__(self, config: Config, codec: Codec, delivery_log: DeliveryLog) -> None:
        self._config = config
        self._codec = codec
        self._log = delivery_log

    async def run(self, stop: asyncio.Event) -> None:
        consumer = new_consumer(self._config, f"{self._config.topic_prefix}-actions-suppressions",
                                self._config.topic("interactions"))
        await consumer.start()
        stage: Stage[object] = Stage(consumer, None, self._codec, dlq_topic=None, target="actions-suppressions",
                                     decode=self._codec.decode, handle=self._keep, on_dead_lettered=lambda _: None,
                                     batch_size=MAX_BATCH, poll_ms=500)
        try:
            await stage.run(stop)
        finally:
            await consumer.stop()

    async def _keep(self, inputs: Inputs[object], stop: asyncio.Event) -> list[Failure] | None:
        rows = []
        for _record, value in inputs.decoded:
            if isinstance(value, Interaction) and value.prospect_id and (reason := suppression(value)):
                rows.append((value.prospect_id, reason, value.event_id, value.occurred_at))
        try:
            await self._log.suppress(rows, stop)
        except Stopped:
            return None
        return []
