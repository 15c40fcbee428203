"""Run leadflow's own commands as real processes, the way a user or a container does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import psycopg

T = TypeVar("T")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who set nothing, on free ports."""
    from leadflow.process import free_ports

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    ports = free_ports(4)
    env.update(LEADFLOW_HTTP_PORT=str(ports[0]), LEADFLOW_WORKER_METRICS_PORT=str(ports[1]),
               LEADFLOW_SINK_METRICS_PORT=str(ports[2]), LEADFLOW_ACTIONS_METRICS_PORT=str(ports[3]))
    env.update(extra)
    return env


@contextmanager
def leadflow(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "leadflow", *args], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def post_json(url: str, payload: object, write_key: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if write_key:
        headers["Authorization"] = f"Bearer {write_key}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until(probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.1) -> T | None:
    """The first answer of ``probe`` that is not None (or False), asked every ``interval_s``; None if none came
    within ``timeout_s``. The one polling loop for what a process makes true eventually: the caller asserts on
    the answer, so a timeout fails with what was (not) there rather than hanging."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer is not None and answer is not False:
            return answer
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)


def wait_for_row(dsn: str, sql: str, params: tuple, timeout_s: float) -> tuple | None:
    def row() -> tuple | None:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                return conn.execute(sql, params).fetchone()
        except psycopg.Error:
            return None

    return wait_until(row, timeout_s)


def read_prospect(port: int, who: str, token: str) -> dict | None:
    """A prospect as the worker's API serves it (`GET /v1/prospects/{id or email}`); None until it exists."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/prospects/{who}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except OSError:  # URLError and HTTPError (404 until the worker has scored it) are OSErrors
        return None


def rows(dsn: str, sql: str, *args: object) -> list[tuple]:
    """The rows a query returns now (the CRM database a process writes)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()
