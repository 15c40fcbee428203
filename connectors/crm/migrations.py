"""Versioned, idempotent CRM schema migrations (``migrations/NNNN_name.sql``, applied in order, once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_ID = 0x1EADF10


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    out = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        out.append(Migration(int(number), name, path.read_text()))
    return out


def migrate(dsn: str) -> list[Migration]:
    """Apply pending migrations in one transaction under an advisory lock; return those applied."""
    with psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute("""CREATE TABLE IF NOT EXISTS leadflow_schema_migrations (
                            version integer PRIMARY KEY, name text NOT NULL,
                            applied_at timestamptz NOT NULL DEFAULT now())""")
        done = {row[0] for row in conn.execute("SELECT version FROM leadflow_schema_migrations")}
        applied = []
        for migration in available():
            if migration.version in done:
                continue
            conn.execute(migration.sql.encode())
            conn.execute("INSERT INTO leadflow_schema_migrations (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
            applied.append(migration)
        conn.commit()
        return applied
