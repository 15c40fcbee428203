"""One connection to the CRM database for a process that must ride out the database being away: a runtime
piece the CRM sink and the action delivery share, so neither imports the other for it.

Why one: the sink's PostgreSQL target, the CRM tasks and the action delivery's log each kept a connection and
retried while the database was down, three copies of the same loop. Here it is once: one autocommit
connection, reopened after it is lost; ``run(work, stop)`` repeats ``work`` with the one backoff (with jitter)
while the database is unreachable, for as long as it takes, and raises ``Stopped`` when the process stops
first. An error of the work itself (a row the database refuses) is the caller's to handle: it passes through.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

import psycopg
from psycopg import AsyncConnection

from leadflow.outbound import Stopped
from leadflow.stage import backoff_delays, pause

log = logging.getLogger("leadflow.database")
T = TypeVar("T")
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)  # the database is away; it may come back
PERMANENT = (psycopg.IntegrityError, psycopg.DataError)  # this row can never be written as it is


class Database:
    def __init__(self, dsn: str, on_retry: Callable[[], None] | None = None) -> None:
        self._dsn = dsn
        self._on_retry = on_retry
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one connection, one statement at a time

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]], stop: asyncio.Event) -> T:
        delays = backoff_delays()
        while True:
            try:
                async with self._lock:
                    if self._conn is None or self._conn.closed:
                        self._conn = await AsyncConnection.connect(self._dsn, autocommit=True, connect_timeout=5)
                    return await work(self._conn)
            except TRANSIENT as exc:
                await self.close()
                delay = next(delays)
                if self._on_retry is not None:
                    self._on_retry()
                log.warning("CRM database unavailable (%s); retrying in %.1fs", str(exc).strip()[:200], delay)
                if await pause(stop, delay):
                    raise Stopped("the CRM database") from None

    async def close(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            except Exception:  # closing a connection that is already broken
                pass
        self._conn = None
