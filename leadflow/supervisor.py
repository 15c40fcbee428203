"""`leadflow up`: the embedded stack (or the user's Kafka/PostgreSQL) plus collector, worker and sink, supervised.

A crashed child is restarted with backoff; one that keeps crashing stops the whole
stack with a message naming it and its log. SIGINT/SIGTERM stop everything, children
first, within seconds; children also die with the supervisor (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from leadflow.config import Config, reachable
from leadflow.embedded.broker import EmbeddedBroker
from leadflow.embedded.postgres import EmbeddedPostgres
from leadflow.private_files import private_dir, restrict_umask
from leadflow.process import StartupError, die_with_parent, free_port, last_lines, stop_process
from leadflow.stack_file import remove_stack, write_stack
from leadflow.status_board import StatusBoard

CHILDREN = ("collector", "worker", "sink", "actions")
MAX_RESTARTS = 5
RESTART_WINDOW_S = 120.0
BROKER_PORT = 19092
POSTGRES_PORT = 15432
# What the embedded broker (Tansu) needs: it rejects idempotent producers; it holds a first JoinGroup for about
# half the session timeout, so short timeouts make a group form in ~2 s; and it reports a partition's high
# watermark as the last batch's base offset + 1, so the worker ends each changelog write with a one-record
# batch, or a reader that trusts it (`leadflow explain`) would stop short of the newest state. And it keeps its
# topics in memory: a new `leadflow up` starts with an empty changelog, which the worker refills from its local
# stores, so scores, `explain` and the prospect API go on where they stopped.
EMBEDDED_KAFKA = dict(idempotence=False, rebalance_timeout_s=3.0, session_timeout_s=3.0, heartbeat_interval_s=0.5,
                      seal_changelog=True, reseed_changelog=True)


@dataclass
class Child:
    name: str
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "leadflow", self.name], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent(),
            )
        self.restart_at = None


@dataclass(frozen=True)
class Probe:
    name: str
    url: str
    marker: str | None = None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=1) as response:
                return response.status == 200 and (self.marker is None or self.marker in response.read().decode())
        except OSError:
            return False


class Stack:
    def __init__(self, config: Config, say: Callable[[str], None] = functools.partial(print, flush=True)) -> None:
        self.config = config
        self._print = say
        self.board: StatusBoard | None = None
        self.note: Callable[[], str] | None = None  # an extra status row (the demo's progress)
        self._task_code = 0
        self.logs = config.data_dir / "logs"
        self.broker: EmbeddedBroker | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        # A plain flag: signal handlers run between bytecodes of the main thread, and a threading.Event would
        # deadlock when the signal lands while the main thread holds the Event's lock inside wait().
        self._stopping = False
        self._failed = False

    def say(self, message: str) -> None:
        self._print(message)
        if self.board is not None:
            self.board.message_printed()

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def run(self, task: Callable[[Stack], int] | None = None, keep: bool = False) -> int:
        """Start everything and supervise until stopped. ``task`` runs on a thread once the stack is ready; its
        exit code is the stack's, and the stack stops when it returns, unless ``keep``."""
        try:
            private_dir(self.config.data_dir)
            private_dir(self.logs)
        except OSError as exc:
            raise StartupError(f"cannot use data dir {self.config.data_dir} (LEADFLOW_DATA_DIR): {exc.strerror}") from None
        try:
            self._start_services()
            self._start_children()
            if task is not None and self.board is not None:
                threading.Thread(target=self._run_task, args=(task, keep), name="task", daemon=True).start()
            return self._supervise() or self._task_code
        finally:
            self._stop_all()

    def _run_task(self, task: Callable[[Stack], int], keep: bool) -> None:
        try:
            self._task_code = task(self)
        except Exception as exc:  # the task's failure ends the run with its reason, not a silent thread death
            self.say(f"error: {type(exc).__name__}: {exc}")
            self._task_code = 1
        if not keep or self._task_code:
            self.request_stop()

    def _start_services(self) -> None:
        from connectors.crm.migrations import migrate
        from leadflow.topics import create_topics

        config = self.config
        if not config.kafka.bootstrap:
            port = free_port("127.0.0.1", BROKER_PORT)
            self.broker = EmbeddedBroker("127.0.0.1", port, self.logs / "broker.log")
            bootstrap = self.broker.start()
            self.say(f"warning: the embedded broker ({bootstrap}) keeps data in memory only: "
                     "topics and consumer offsets are gone when leadflow stops")
            config = config.with_changes(bootstrap=bootstrap, **EMBEDDED_KAFKA)
        if not config.crm_dsn:
            port = free_port("127.0.0.1", POSTGRES_PORT)
            self.postgres = EmbeddedPostgres(config.data_dir / "pgdata", "127.0.0.1", port,
                                             self.logs / "postgres.log", config.secrets.embedded_pg_password)
            config = config.with_changes(crm_dsn=self.postgres.start())
        try:
            create_topics(config)
        except Exception as exc:
            raise StartupError(f"cannot create topics on {config.kafka.bootstrap}: {exc}") from None
        try:
            migrate(config.crm_dsn)
        except Exception as exc:
            raise StartupError(f"cannot migrate the CRM database: {str(exc).strip().splitlines()[0]}") from None
        self.config = config

    def _start_children(self) -> None:
        env = {**os.environ, **self.config.as_env()}
        for name in CHILDREN:
            child = Child(name, self.logs / f"{name}.log", env)
            child.start()
            self.children.append(child)
        config = self.config
        host = reachable(config.http_host)
        internal = reachable(config.internal_host)
        base = f"http://{host}:{config.http_port}"
        collector_metrics = f"http://{internal}:{config.collector_metrics_port}/metrics" \
            if config.collector_metrics_port else f"{base}/metrics"
        self.say(f"collector: {base}  (pixel {base}/t/px.gif, events API {base}/v1/events)")
        self.say(f"metrics: {collector_metrics} http://{internal}:{config.worker_metrics_port}/metrics "
                 f"http://{internal}:{config.sink_metrics_port}/metrics "
                 f"http://{internal}:{config.actions_metrics_port}/metrics")
        self.say(f"crm: {_without_password(config.crm_dsn)}  (with its password in {config.data_dir}/stack.env)")
        self.say(f"write key: {config.secrets.write_key}  (events API: HTTP Basic username or Bearer token)")
        self.say(f"logs: {self.logs}/")
        probes = [Probe("collector", f"{base}/readyz")]
        if config.worker_metrics_port:
            probes.append(Probe("worker", f"http://{internal}:{config.worker_metrics_port}/metrics",
                                "leadflow_worker_ready 1.0"))
        if config.sink_metrics_port:
            probes.append(Probe("sink", f"http://{internal}:{config.sink_metrics_port}/metrics",
                                "leadflow_sink_ready 1.0"))
        if config.actions_metrics_port:
            probes.append(Probe("actions", f"http://{internal}:{config.actions_metrics_port}/metrics",
                                "leadflow_actions_ready 1.0"))
        started = time.monotonic()
        if self._wait_ready(probes, 90):
            try:  # where commands in another terminal find this stack (leadflow/stack_file.py)
                write_stack(config.data_dir, {**config.as_env(), "LEADFLOW_PUBLIC_URL": config.public_url}, base)
            except OSError as exc:
                self.say(f"warning: cannot write {config.data_dir}/stack.env ({exc.strerror}): other commands "
                         "will not find this stack")
            self.say(f"ready in {time.monotonic() - started:.1f}s: press Ctrl-C to stop")
            self.board = StatusBoard([collector_metrics, *(p.url for p in probes[1:])], config.status_s, note=self.note)

    def _wait_ready(self, probes: list["Probe"], timeout_s: float) -> bool:
        """Poll until collector, worker and sink say they are ready, restarting crashed children meanwhile."""
        deadline = time.monotonic() + timeout_s
        pending = list(probes)
        while time.monotonic() < deadline and not self._stopping:
            pending = [probe for probe in pending if not probe.ready()]
            if not pending:
                return True
            failed = self._check_children()
            if failed:
                self.say(failed)
                self._failed = True
                return False
            time.sleep(0.2)
        if pending and not self._stopping:
            self.say(f"warning: not ready after {timeout_s:.0f}s: {', '.join(p.name for p in pending)}; "
                     f"see {self.logs}/")
        return False

    def _supervise(self) -> int:
        if self._failed:
            return 1
        while not self._stopping:
            failed = self._check_children()
            if failed:
                self.say(failed)
                return 1
            for name, service in (("broker", self.broker), ("PostgreSQL", self.postgres)):
                if service is not None and not service.alive():
                    self.say(f"error: the embedded {name} exited; stopping the stack")
                    return 1
            if self.board is not None:
                self.board.tick()
            time.sleep(0.2)
        self.say("stopping...")
        return 0

    def _check_children(self) -> str | None:
        """Restart crashed children; return a message when one keeps crashing."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                continue
            code = child.proc.poll() if child.proc else None
            if code is None:
                continue
            while child.restarts and now - child.restarts[0] > RESTART_WINDOW_S:
                child.restarts.popleft()
            reason = last_lines(child.log_path, containing=("Error", "ERROR", "error")) or f"exit code {code}"
            if len(child.restarts) >= MAX_RESTARTS:
                return (f"error: {child.name} crashed {MAX_RESTARTS + 1} times in {RESTART_WINDOW_S:.0f}s; "
                        f"stopping the stack. Last error: {reason[:300]} (log: {child.log_path})")
            child.restarts.append(now)
            delay = 0.5 * 2 ** (len(child.restarts) - 1)
            self.say(f"warning: {child.name} exited with code {code}; restarting in {delay:.1f}s ({reason[:200]})")
            child.restart_at = now + delay
        return None

    def _stop_all(self) -> None:
        remove_stack(self.config.data_dir)
        for child in reversed(self.children):  # sink and worker drain before the collector goes
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 6
        for child in self.children:
            if child.proc is not None:
                stop_process(child.proc, timeout_s=max(0.1, deadline - time.monotonic()))
        if self.postgres is not None:
            self.postgres.stop()
        if self.broker is not None:
            self.broker.stop()


def run_up(config: Config, task: Callable[[Stack], int] | None = None, keep: bool = False,
           note: Callable[[], str] | None = None) -> int:
    """`leadflow up` (and, with a task, `leadflow demo`) until Ctrl-C or SIGTERM."""
    restrict_umask()  # logs, spools and state files of the stack and its children: owner only
    stack = Stack(config)
    stack.note = note
    signal.signal(signal.SIGINT, stack.request_stop)
    signal.signal(signal.SIGTERM, stack.request_stop)
    try:
        code = stack.run(task, keep)
    except StartupError as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return code


def _without_password(dsn: str | None) -> str:
    """The DSN to print: its password stays in the 0600 stack file, not on the terminal or in a log."""
    if not dsn:
        return ""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
