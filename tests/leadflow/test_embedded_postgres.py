"""The embedded PostgreSQL is not open to other local users: loopback, a password, never trust."""

from __future__ import annotations

import re

import psycopg
import pytest

from leadflow.embedded.postgres import EmbeddedPostgres
from leadflow.process import StartupError, free_ports
from tests.conftest import traversable_tmp


def refused_without_password(port: int) -> bool:
    try:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return "password" in str(exc)
    return False


def test_a_password_is_required_and_an_old_trust_data_dir_is_switched_to_it() -> None:
    with traversable_tmp("leadflow-pg-auth-") as workdir:
        [port] = free_ports(1)
        postgres = EmbeddedPostgres(workdir / "pgdata", "127.0.0.1", port, workdir / "logs" / "pg.log", "pw-0123456789-x")
        try:
            dsn = postgres.start()
            assert ":pw-0123456789-x@127.0.0.1:" in dsn
            hba = (workdir / "pgdata" / "pg_hba.conf").read_text()
            assert not re.search(r"^[^#\n]*\btrust\b", hba, re.M) and "scram-sha-256" in hba
            assert refused_without_password(port)
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
                conn.execute("ALTER ROLE postgres PASSWORD NULL")  # as an older version left it: trust, no password
            (workdir / "pgdata" / "pg_hba.conf").write_text(hba.replace("scram-sha-256", "trust"))
        finally:
            postgres.stop()
        again = EmbeddedPostgres(workdir / "pgdata", "127.0.0.1", port, workdir / "logs" / "pg.log", "pw-0123456789-x")
        try:
            psycopg.connect(again.start()).close()
            assert refused_without_password(port)
            assert "trust" not in re.sub(r"#.*", "", (workdir / "pgdata" / "pg_hba.conf").read_text())
        finally:
            again.stop()
        wrong = EmbeddedPostgres(workdir / "pgdata", "127.0.0.1", port, workdir / "logs" / "pg.log", "another-password")
        with pytest.raises(StartupError, match="set up with another password"):
            wrong.start()
        wrong.stop()
