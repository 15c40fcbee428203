"""Replay defences of the signed webhooks: a timestamp window, and a ledger of one-time tokens shared on the host.

A valid signature proves a vendor sent the bytes once; it does not stop anyone who saw
them from sending them again. So a signed timestamp must lie within
LEADFLOW_WEBHOOK_MAX_AGE_SECONDS of now (either way), and Mailgun's one-time token is
remembered for as long as its timestamp stays acceptable. The ledger is a small SQLite
file under the data dir, so every collector process on the host (LEADFLOW_COLLECTOR_PROCESSES,
which share the port) sees the tokens the others took; an in-process cache would let a
replay through whenever it lands on another process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from connectors.collector.webhooks.common import Unauthorized

LEDGER_FILE = Path("replay") / "webhook-tokens.sqlite3"
_PURGE_EVERY = 256


class Replayed(Unauthorized):
    """Correctly signed, but stale, from the future, or seen before."""


def check_age(timestamp_s: float, now_s: float, max_age_s: float) -> None:
    age = now_s - timestamp_s
    if abs(age) > max_age_s:
        when = "old" if age > 0 else "in the future"
        raise Replayed(f"timestamp is {abs(age):.0f}s away from now, {when} (at most {max_age_s:.0f}s)")


def iso_seconds(value: object) -> float:
    """An ISO-8601 timestamp (SNS's ``Timestamp``) as epoch seconds; Unauthorized when it is not one."""
    if not isinstance(value, str):
        raise Unauthorized("Timestamp missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unauthorized("Timestamp is not ISO 8601") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


class TokenLedger:
    """One-time tokens seen on this host, each kept until its timestamp leaves the window."""

    def __init__(self, data_dir: Path, max_age_s: float) -> None:
        path = data_dir / LEDGER_FILE
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._max_age_s = max_age_s
        # used from the event loop's worker threads (the handler verifies in a thread), one at a time
        self._db = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer; commits need no fsync
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, expires REAL NOT NULL)")
        os.chmod(path, 0o600)
        self._calls = 0

    def first_use(self, token: str, timestamp_s: float, now_s: float) -> bool:
        """True the first time any process on the host presents ``token``; False for a replay."""
        with self._lock:
            return self._first_use(token, timestamp_s, now_s)

    def _first_use(self, token: str, timestamp_s: float, now_s: float) -> bool:
        self._calls += 1
        if self._calls % _PURGE_EVERY == 1:
            self._db.execute("DELETE FROM tokens WHERE expires < ?", (now_s,))
        expires = max(timestamp_s, now_s) + self._max_age_s
        inserted = self._db.execute("INSERT OR IGNORE INTO tokens (token, expires) VALUES (?, ?)", (token, expires))
        if inserted.rowcount == 1:
            return True
        stale = self._db.execute("UPDATE tokens SET expires = ? WHERE token = ? AND expires < ?",
                                 (expires, token, now_s))  # an expired entry not purged yet: not a replay
        return stale.rowcount == 1

    def close(self) -> None:
        self._db.close()
