"""`leadflow import FILE`: a history file onto the input topics, all of it or nothing.

Why all or nothing: a history half imported scores half the prospects on half their past, and
nobody can tell which half. So the whole file is validated first (``history_scan.scan_history``);
any bad row refuses the file with the first errors and their count, and only `--skip-bad` imports
the good rows of a file with bad ones. Then the records are published as the collector publishes
live inputs: interactions to ``leadflow.interactions`` keyed by prospect key, outcomes to
``leadflow.crm-feedback`` keyed by prospect id, with the project's producer (acks=all) in batches.

Order: each topic gets its records in canonical order (event time, then event id), so the worker
keeps each prospect's past as it happened. A file already in that order streams straight through;
another is sorted in runs of ``RUN`` records spilled to a temporary directory and merged, so a file
of any size fits in memory. The outcomes are held back (on disk past ``RUN``) and published after
every interaction: a verdict judges a lead its interactions made, and the worker takes the two
topics at its own pace. That makes a verdict before its promotion unlikely, not impossible; and the
worker's timers run on today's clock (an old lead nobody answered decays and is demoted today), so
the live stages of imported prospects are approximate. Their retained histories, which `rescore`,
backtests and tuning replay, are exact: the core keeps them in canonical order whatever the arrival.

Idempotent: every row keeps the same event id on every import (see ``history_file``), and the
worker ignores an input whose id it has seen, so importing a file twice changes no score. Records
carry the import's time as ``received_at``: the worker treats them as late inputs, which score but
fire no automation (nobody should get last year's welcome email).
"""

from __future__ import annotations

import asyncio
import heapq
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterable, Iterator

from aiokafka import AIOKafkaProducer

from connectors.collector.event_names import load_event_names
from leadflow.config import Config
from leadflow.errors import UsageError
from leadflow.history_file import Record, Rules, read_history
from leadflow.history_scan import HistoryScan, scan_history
from leadflow.kafka import Outgoing, new_producer, send_batched
from leadflow.terminal import printable
from leadflow.topics import create_topics
from schemas.codec import Codec
from schemas.records import Interaction
from streams.core.history import canonical_order

SHOWN_ERRORS = 20
BATCH = 5_000  # records per send_batched call: one acknowledgement wait each
RUN = 200_000  # records sorted in memory at a time when the file is not in canonical order
PROGRESS_S = 2.0


@dataclass(frozen=True)
class Imported:
    interactions: int
    outcomes: int
    seconds: float


class Progress:
    """A line on stderr every couple of seconds while a phase runs long: rows so far and rows per second."""

    def __init__(self, phase: str, total: int | None, out: IO[str]) -> None:
        self.phase, self.total, self.out = phase, total, out
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.shown >= PROGRESS_S:
            self.shown = now
            of = f" of {self.total:,}" if self.total is not None else ""
            print(f"{self.phase} {done:,}{of} rows ({done / (now - self.started):,.0f} rows/s)", file=self.out,
                  flush=True)


def rules_for(config: Config, now_ms: int | None = None, received_at: int | None = None) -> Rules:
    """The live paths' settings: the events API's event-name table and the collector's future bound."""
    return Rules.default(now_ms, max_future_s=config.collector.max_future_s,
                         event_names=load_event_names(config.collector.event_names_path), received_at=received_at)


def run_import(config: Config, path: str, dry_run: bool = False, skip_bad: bool = False,
               out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Check the file, then (unless ``dry_run``) publish it; UsageError when it is refused."""
    out, err = out or sys.stdout, err or sys.stderr
    started_ms = time.time_ns() // 1_000_000
    scan = scan_history(path, rules_for(config, started_ms), SHOWN_ERRORS, Progress("checked", None, err))
    for error in scan.errors:
        print(printable(f"leadflow: {error}"), file=err)
    if scan.unreadable:
        raise UsageError(f"{path}: nothing imported")
    if scan.bad_rows and not skip_bad:
        raise UsageError(f"{path}: {_bad(scan)}: nothing imported (fix them, or pass --skip-bad to import the "
                         "good rows)")
    if dry_run:
        print(printable(f"{path}: would import {summary(scan)}{_skipped(scan)} (--dry-run: nothing published)"),
              file=out)
        return 0
    if not scan.rows:
        print(printable(f"{path}: no rows to import{_skipped(scan)}"), file=out)
        return 0
    done = asyncio.run(publish(config, path, scan, rules_for(config, started_ms, received_at=started_ms),
                               Progress("imported", scan.rows, err)))
    print(printable(f"imported {path}: {summary(scan)}{_skipped(scan)}"), file=out)
    print(f"  {_count(done.interactions, 'record')} to {config.topic('interactions')}, "
          f"{_count(done.outcomes, 'record')} to {config.topic('crm-feedback')} in {done.seconds:.1f}s "
          f"({scan.rows / max(done.seconds, 1e-3):,.0f} rows/s)", file=out)
    return 0


def summary(scan: HistoryScan) -> str:
    span = "" if scan.first_at is None or scan.last_at is None else \
        f", from {_when(scan.first_at)} to {_when(scan.last_at)}"
    return f"{_count(scan.interactions, 'interaction')} and {_count(scan.outcomes, 'outcome')} of " \
           f"{_count(scan.prospects, 'prospect')}{span}"


async def publish(config: Config, path: str, scan: HistoryScan, rules: Rules, progress: Progress) -> Imported:
    """Every good row of ``path`` onto the input topics in canonical order (bad rows were counted by the scan):
    all the interactions first, then the outcomes, which judge leads the interactions made."""
    create_topics(config)  # idempotent: an import may come before any worker created them
    codec = Codec.for_config(config)
    interactions_topic, feedback_topic = config.topic("interactions"), config.topic("crm-feedback")
    records: Iterable[Record] = (record for _, record in read_history(path, rules, on_error=lambda _: None))
    started = time.monotonic()
    producer = new_producer(config)
    await producer.start()
    try:
        send = _Sender(producer, progress)
        with tempfile.TemporaryDirectory(prefix="leadflow-import-") as directory:
            outcomes = _Held(Path(directory))
            for record in records if scan.in_order else canonical(records):
                if type(record) is Interaction:
                    await send(interactions_topic, record.prospect_key, codec.encode(record, interactions_topic))
                else:
                    outcomes.add(record)
            await send.flush()
            interactions = send.sent
            for record in outcomes:
                await send(feedback_topic, record.prospect_id, codec.encode(record, feedback_topic))
            await send.flush()
    finally:
        await producer.stop()
    return Imported(interactions, send.sent - interactions, time.monotonic() - started)


class _Sender:
    """Records to the producer in batches of ``BATCH`` (``send_batched``: per-partition order kept)."""

    def __init__(self, producer: AIOKafkaProducer, progress: Progress) -> None:
        self.producer, self.progress = producer, progress
        self.batch: list[Outgoing] = []
        self.sent = 0

    async def __call__(self, topic: str, key: str, value: bytes) -> None:
        self.batch.append((topic, key.encode(), value, None))
        if len(self.batch) >= BATCH:
            await self.flush()
            self.progress(self.sent)

    async def flush(self) -> None:
        if self.batch:
            await send_batched(self.producer, self.batch)
            self.sent, self.batch = self.sent + len(self.batch), []


class _Held:
    """Records held back in the order they came, in memory up to ``RUN`` at a time and on disk past that."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.runs: list[Path] = []
        self.pending: list[Record] = []

    def add(self, record: Record) -> None:
        self.pending.append(record)
        if len(self.pending) >= RUN:
            self.runs.append(_spill(self.pending, self.directory / f"held-{len(self.runs)}"))
            self.pending = []

    def __iter__(self) -> Iterator[Record]:
        for path in self.runs:
            yield from _load(path)
        yield from self.pending


def canonical(records: Iterable[Record], run: int = RUN) -> Iterator[Record]:
    """``records`` in canonical order, holding at most ``run`` of them in memory: each run is sorted and
    spilled to a temporary file, and the runs are merged."""
    with tempfile.TemporaryDirectory(prefix="leadflow-import-") as directory:
        runs: list[Path] = []
        pending: list[Record] = []
        for record in records:
            pending.append(record)
            if len(pending) >= run:
                runs.append(_spill(canonical_order(pending), Path(directory) / f"run-{len(runs)}"))
                pending = []
        last = canonical_order(pending)
        if not runs:
            yield from last
            return
        # the key of streams.core.history's canonical order: event time, then receive time, then event id
        yield from heapq.merge(*(_load(path) for path in runs), last,
                               key=lambda r: (r.occurred_at, r.received_at, r.event_id))


def _spill(records: list[Record], path: Path) -> Path:
    with open(path, "wb") as out:
        for start in range(0, len(records), 1000):
            pickle.dump(records[start:start + 1000], out, pickle.HIGHEST_PROTOCOL)
    return path


def _load(path: Path) -> Iterator[Record]:
    """A spilled run, read back block by block (the files are our own, written moments ago)."""
    with open(path, "rb") as spilled:
        while True:
            try:
                yield from pickle.load(spilled)
            except EOFError:
                return


def _bad(scan: HistoryScan) -> str:
    shown = f" (the first {len(scan.errors)} above)" if scan.bad_rows > len(scan.errors) else ""
    return f"{_count(scan.bad_rows, 'bad row')}{shown}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _skipped(scan: HistoryScan) -> str:
    return f"; skipped {_bad(scan)}" if scan.bad_rows else ""


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
