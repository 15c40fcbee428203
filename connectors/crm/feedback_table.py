"""The database-side feedback path: verdicts a CRM writes into `crm_feedback` are published to
`leadflow.crm-feedback`, exactly as if posted to `POST /v1/crm/feedback`.

An insert trigger NOTIFYs `leadflow_crm_feedback`; the sink LISTENs and also sweeps every
few seconds (a notification is lost while the sink is disconnected). Rows are taken with
FOR UPDATE SKIP LOCKED, so several sinks share the table, and marked published in the same
transaction after Kafka acknowledged them: a crash in between republishes the same event
ids, which the worker de-duplicates. A row that is not a valid verdict is marked with its
error instead.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from psycopg.rows import dict_row

from leadflow.clock import Clock
from connectors.crm import metrics
from leadflow.stage import backoff_delays, pause
from streams.core.verdicts import VerdictError, verdict_from
from leadflow.config import Config
from schemas.codec import Codec

log = logging.getLogger("leadflow.sink")
CHANNEL = "leadflow_crm_feedback"
SWEEP_S = 5.0
BATCH = 500
PENDING = f"""
SELECT id, prospect_id, email, verdict, occurred_at, deal_value, reason, owner FROM crm_feedback
WHERE published_at IS NULL ORDER BY id LIMIT {BATCH} FOR UPDATE SKIP LOCKED
"""
MARK = "UPDATE crm_feedback SET published_at = now(), event_id = %s, error = %s WHERE id = %s"


class FeedbackTable:
    def __init__(self, config: Config, codec: Codec, producer: AIOKafkaProducer,
                 clock: Clock) -> None:
        assert config.crm_dsn
        self._dsn = config.crm_dsn
        self._topic = config.topic("crm-feedback")
        self._max_future_s = config.collector.max_future_s
        self._codec = codec
        self._producer = producer
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        delays = backoff_delays()
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True,
                                                                 connect_timeout=5) as listener:
                    await listener.execute(f"LISTEN {CHANNEL}")
                    async with await psycopg.AsyncConnection.connect(self._dsn, connect_timeout=5) as conn:
                        delays = backoff_delays()
                        while not stop.is_set():
                            while await self.publish_pending(conn) == BATCH:
                                pass
                            async for _ in listener.notifies(timeout=SWEEP_S, stop_after=1):
                                pass
            except (psycopg.OperationalError, psycopg.InterfaceError, KafkaError) as exc:
                delay = next(delays)
                log.warning("crm_feedback cannot be published (%s); retrying in %.1fs", str(exc).strip()[:200], delay)
                await pause(stop, delay)
            except psycopg.errors.UndefinedTable:
                log.warning("crm_feedback does not exist yet (run `leadflow migrate`); checking again in %.0fs",
                            SWEEP_S * 6)
                await pause(stop, SWEEP_S * 6)

    async def publish_pending(self, conn: psycopg.AsyncConnection) -> int:
        """Publish and mark one batch of new rows; the number of rows taken."""
        async with conn.transaction():
            async with conn.cursor(row_factory=dict_row) as cur:
                rows = await (await cur.execute(PENDING)).fetchall()
                marks = []
                sends = []
                for row in rows:
                    try:
                        verdict = verdict_from(_item(row), self._clock(), self._max_future_s)
                    except VerdictError as exc:
                        marks.append((None, str(exc), row["id"]))
                        metrics.FEEDBACK_ROWS.labels("refused").inc()
                        continue
                    sends.append(await self._producer.send(self._topic, key=verdict.prospect_id.encode(),
                                                           value=self._codec.encode(verdict, self._topic)))
                    marks.append((verdict.event_id, None, row["id"]))
                    metrics.FEEDBACK_ROWS.labels("published").inc()
                await asyncio.gather(*sends)
                if marks:
                    await cur.executemany(MARK, marks)
        return len(rows)


def _item(row: dict) -> dict:
    """A row as the verdict the HTTP endpoint would have received: the row id is the CRM's id."""
    item = {name: row[name] for name in ("prospect_id", "email", "verdict", "occurred_at", "reason", "owner")}
    item["id"] = f"crm_feedback/{row['id']}"
    item["deal_value"] = None if row["deal_value"] is None else float(row["deal_value"])
    return item
