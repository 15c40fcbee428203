"""The action delivery's memory, in PostgreSQL (``action_deliveries``, ``email_suppressions``; migration 0006).

Why a table and not the consumer offsets alone: offsets say which records were read, not which actions
happened. A delivery that sends an email and dies before it commits reads the action again after the restart;
the row written right after the send is what stops the second send. The same table holds the actions due
later (their Kafka offsets can move on: the row keeps them), and counts the marketing emails of the last week
for the cap checked at send time. The suppression list is what the providers' webhooks and the unsubscribe
endpoint reported, so an email queued before an unsubscribe is not sent after it.

Every call waits out a lost database (``leadflow.database``) until the process stops (``Stopped``): a
handler must not give up on a batch while running, or its records would be skipped until the next restart.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

from psycopg import AsyncConnection

from leadflow.database import Database

T = TypeVar("T")
DONE = ("sent", "written", "suppressed")
WEEK_MS = 7 * 86_400_000
LEASE_S = 300  # how long a scheduled action taken by one process is not offered to another

RECORD = """
INSERT INTO action_deliveries (action_id, prospect_id, type, source, status, channel, marketing, due_at, detail,
                               attempts, action, done_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, to_timestamp(%s / 1000.0), %s, %s, %s,
        CASE WHEN %s = 'scheduled' THEN NULL ELSE now() END)
ON CONFLICT (action_id) DO UPDATE SET
    status = EXCLUDED.status, channel = EXCLUDED.channel, marketing = EXCLUDED.marketing,
    due_at = EXCLUDED.due_at, detail = EXCLUDED.detail, attempts = action_deliveries.attempts + EXCLUDED.attempts,
    action = EXCLUDED.action, done_at = EXCLUDED.done_at
WHERE action_deliveries.status IN ('scheduled', 'failed')
"""


class DeliveryLog:
    def __init__(self, dsn: str) -> None:
        self._db = Database(dsn)

    async def close(self) -> None:
        await self._db.close()

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]], stop: asyncio.Event) -> T:
        return await self._db.run(work, stop)

    async def statuses(self, action_ids: list[str], stop: asyncio.Event) -> dict[str, str]:
        """The status of each action already in the log (absent: never seen)."""
        async def work(conn: AsyncConnection) -> dict[str, str]:
            cur = await conn.execute("SELECT action_id, status FROM action_deliveries WHERE action_id = ANY(%s)",
                                     (action_ids,))
            return {row[0]: row[1] for row in await cur.fetchall()}
        return await self._run(work, stop) if action_ids else {}

    async def record(self, *, action_id: str, prospect_id: str, type_: str, source: str, status: str,
                     channel: str | None, marketing: bool, due_at: int, detail: str | None, attempts: int,
                     encoded: bytes | None, stop: asyncio.Event) -> None:
        """What became of an action (or that it waits until ``due_at``); a finished row never changes again."""
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(RECORD, (action_id, prospect_id, type_, source, status, channel, marketing, due_at,
                                        detail, attempts, encoded, status))
        await self._run(work, stop)

    async def due(self, now_ms: int, limit: int, stop: asyncio.Event) -> list[bytes]:
        """Encoded actions whose time has come, oldest first, leased to this process: their due time moves
        ``LEASE_S`` ahead, so another replica does not take them too, and a process that dies holding them
        leaves them to be taken again when the lease ends (delivered, a row's status ends the lease)."""
        async def work(conn: AsyncConnection) -> list[bytes]:
            cur = await conn.execute(
                "UPDATE action_deliveries SET due_at = to_timestamp(%s / 1000.0) + make_interval(secs => %s) "
                "WHERE action_id IN (SELECT action_id FROM action_deliveries WHERE status = 'scheduled' AND "
                "due_at <= to_timestamp(%s / 1000.0) ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                "RETURNING action", (now_ms, LEASE_S, now_ms, limit))
            return [bytes(row[0]) for row in await cur.fetchall()]
        return await self._run(work, stop)

    async def scheduled(self, stop: asyncio.Event) -> int:
        async def work(conn: AsyncConnection) -> int:
            cur = await conn.execute("SELECT count(*) FROM action_deliveries WHERE status = 'scheduled'")
            row = await cur.fetchone()
            return int(row[0]) if row else 0
        return await self._run(work, stop)

    async def marketing_sent(self, prospect_id: str, since_ms: int, stop: asyncio.Event) -> int:
        """Marketing emails sent (or written to the outbox) to the prospect since ``since_ms``."""
        async def work(conn: AsyncConnection) -> int:
            cur = await conn.execute(
                "SELECT count(*) FROM action_deliveries WHERE prospect_id = %s AND marketing AND "
                "status IN ('sent', 'written') AND done_at > to_timestamp(%s / 1000.0)", (prospect_id, since_ms))
            row = await cur.fetchone()
            return int(row[0]) if row else 0
        return await self._run(work, stop)

    async def suppression(self, prospect_id: str, stop: asyncio.Event) -> str | None:
        async def work(conn: AsyncConnection) -> str | None:
            cur = await conn.execute("SELECT reason FROM email_suppressions WHERE prospect_id = %s", (prospect_id,))
            row = await cur.fetchone()
            return row[0] if row else None
        return await self._run(work, stop)

    async def suppress(self, rows: list[tuple[str, str, str, int]], stop: asyncio.Event) -> None:
        """(prospect_id, reason, event_id, occurred_at ms) rows; the first reason recorded stays."""
        async def work(conn: AsyncConnection) -> None:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO email_suppressions (prospect_id, reason, event_id, occurred_at) "
                    "VALUES (%s, %s, %s, to_timestamp(%s / 1000.0)) ON CONFLICT (prospect_id) DO NOTHING", rows)
        if rows:
            await self._run(work, stop)
