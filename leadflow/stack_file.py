"""Where a running `leadflow up` is: ``<data dir>/stack.env``, so commands in a second terminal find it.

`leadflow up` (and `leadflow demo`, under its own data dir ``<data dir>/demo``) writes the
file once the stack is ready: the broker and CRM addresses, the settings every client of
that stack must share with it (the embedded broker's Kafka settings, topic prefix,
partitions, the model), the collector's URL and ports, and its own pid. It removes the
file when it stops. `explain`, `dlq`, `topics`, `link`, ... read it below their env vars
and flags (and above ``secrets.env``), so they need no setting while the stack runs. A
file whose pid no longer runs (the supervisor was killed with -9) is ignored with a note.
Same format, reader and atomic writer as ``secrets.env`` (env_file.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from leadflow.env_file import read_env_file, write_env_file

FILE_NAME = "stack.env"
DEMO_DIR = "demo"  # `leadflow demo` runs under <data dir>/demo
PID = "LEADFLOW_STACK_PID"
COLLECTOR_URL = "LEADFLOW_STACK_COLLECTOR_URL"
# What commands take from the file: where the stack is, and what its clients must agree on with it.
APPLIED = (
    "LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_SECURITY_PROTOCOL", "LEADFLOW_KAFKA_SASL_MECHANISM",
    "LEADFLOW_KAFKA_SASL_USERNAME", "LEADFLOW_KAFKA_SSL_CAFILE", "LEADFLOW_KAFKA_SSL_CERTFILE",
    "LEADFLOW_KAFKA_SSL_KEYFILE", "LEADFLOW_KAFKA_IDEMPOTENCE", "LEADFLOW_KAFKA_REBALANCE_TIMEOUT",
    "LEADFLOW_KAFKA_SESSION_TIMEOUT", "LEADFLOW_KAFKA_HEARTBEAT_INTERVAL", "LEADFLOW_KAFKA_SEAL_CHANGELOG",
    "LEADFLOW_KAFKA_RESEED_CHANGELOG",    "LEADFLOW_TOPIC_PREFIX", "LEADFLOW_PARTITIONS", "LEADFLOW_REPLICATION_FACTOR", "LEADFLOW_SCHEMA_REGISTRY_URL",
    "LEADFLOW_CRM_DSN", "LEADFLOW_MODEL", "LEADFLOW_PUBLIC_URL",
)
# Recorded for people and scripts, never applied: the stack's own listeners, which another process must not take.
RECORDED = ("LEADFLOW_HTTP_HOST", "LEADFLOW_HTTP_PORT", "LEADFLOW_WORKER_METRICS_PORT", "LEADFLOW_SINK_METRICS_PORT")
PATHS = ("LEADFLOW_MODEL", "LEADFLOW_KAFKA_SSL_CAFILE", "LEADFLOW_KAFKA_SSL_CERTFILE", "LEADFLOW_KAFKA_SSL_KEYFILE")


@dataclass(frozen=True)
class RunningStack:
    path: Path
    pid: int
    values: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return self.path.parent

    def applied(self) -> dict[str, str]:
        """The settings a command takes from this stack (below its env vars and flags)."""
        return {name: value for name, value in self.values.items() if name in APPLIED}


def stack_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def shown(data_dir: Path) -> str:
    """A data dir as the user typed it: ``./.leadflow`` for the default."""
    text = str(data_dir)
    return text if data_dir.is_absolute() or text in (".", "..") or text.startswith("../") else f"./{text}"


def write_stack(data_dir: Path, settings: Mapping[str, str], collector_url: str, pid: int | None = None) -> Path:
    """Record the ready stack (``settings``: its config as env vars) under its data dir, atomically."""
    path = stack_path(data_dir)
    values = {PID: str(os.getpid() if pid is None else pid), COLLECTOR_URL: collector_url}
    for name in (*APPLIED, *RECORDED):
        if settings.get(name):
            values[name] = str(Path(settings[name]).resolve()) if name in PATHS else settings[name]
    write_env_file(path, values, "written by `leadflow up` when its stack was ready, removed when it stops.\n"
                   "Commands run under this data dir read it when no env var or flag sets these.")
    return path


def remove_stack(data_dir: Path, pid: int | None = None) -> None:
    """Remove the file if this process (``pid``) wrote it: a second `up` that failed must not remove the first's."""
    path = stack_path(data_dir)
    if read_env_file(path).get(PID) == str(os.getpid() if pid is None else pid):
        path.unlink(missing_ok=True)


def running(path: Path) -> tuple[RunningStack | None, str | None]:
    """The stack recorded at ``path`` if its supervisor still runs; else None and, for a stale file, why."""
    values = read_env_file(path)
    if not values:
        return None, None
    pid = int(values[PID]) if values.get(PID, "").isdigit() else 0
    if not pid_alive(pid):
        return None, f"ignoring {path}: the `leadflow up` that wrote it (pid {pid}) no longer runs"
    return RunningStack(path, pid, values), None


def find(data_dir: Path, with_demo: bool) -> tuple[RunningStack | None, list[str]]:
    """The running stack under ``data_dir`` or, ``with_demo`` (the data dir was not chosen), its demo's."""
    notes: list[str] = []
    for directory in (data_dir, data_dir / DEMO_DIR) if with_demo else (data_dir,):
        stack, note = running(stack_path(directory))
        if stack is not None:
            return stack, notes
        notes += [note] if note else []
    return None, notes


def pid_alive(pid: int) -> bool:
    """A running (not zombie) process whose command line names leadflow: a reused pid does not count."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return b"leadflow" in Path(f"/proc/{pid}/cmdline").read_bytes()  # empty for a zombie
    except OSError:
        return True  # no /proc: the signal check is all there is
