"""A history file read by the worker processes: `leadflow backtest --data` / `tune --data` on both cores.

Why: reading a row (JSON, then the live paths' checks in ``history_file.RowConverter``) costs 20-30 µs, more
than replaying it; read in the parent, a million prospects' four million rows took longer than their replay.
So the parent only finds where the work splits, and the workers do the rest, in two steps on one pool
(``replay_pool.workers``):

1. File: each worker reads byte ranges of the file (``Span``: whole lines, so each row keeps its exact line
   number), finds each row's prospect key (``RowConverter.key``) and files the row, unconverted, under its
   prospect's shard (a stable hash of the key, so a prospect lands in one shard whatever range its rows are
   in): one orjson file of [line, row] pairs per range and shard, in a temporary directory. A CSV or
   compressed file cannot be cut at byte offsets (quoted line breaks, gzip) and is filed as one range.
2. Replay: each shard (``ShardFiles``) is a chunk of the replay: its rows, in file order, converted as
   ``read_history`` converts them (once: rows travel as parsed JSON, records never do), merged by prospect; a
   row repeated in the file counts once (the first), inputs in canonical order, prospects by key.

The figures do not depend on the process count: the shards depend on the file's size only, and the tallies
are counts. A bad row stops the command with the first bad row in file order, as reading in one process did
(``first_bad_row``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from leadflow.history_file import HistoryError, Record, RowConverter, RowError, Rules, Span, convert_rows, read_rows
from leadflow.replay_pool import Mapper, Progress
from schemas.records import Interaction
from streams.core.history import Input, canonical_order

SPAN_BYTES = 16 << 20  # bytes a worker reads per task: many tasks per process, for balance and progress
SHARD_BYTES = 24 << 20  # the file's bytes per shard: a shard's prospects are one replay chunk, held at once


def key_of(record: Record) -> str:
    return record.prospect_key if type(record) is Interaction else record.prospect_id


def shard_of(key: str, shards: int) -> int:
    """A stable hash (not ``hash``, which changes with each process): the same prospect, the same shard."""
    return zlib.crc32(key.encode()) % shards


def spans(path: str | Path, size: int | None = None) -> list[Span] | None:
    """The file as ranges of about ``size`` bytes cut at line ends, each with its first line's number; None
    for a file that cannot be cut (not an uncompressed .jsonl)."""
    if not str(path).lower().endswith(".jsonl"):
        return None
    try:
        with open(path, "rb") as file:
            total, size = file.seek(0, 2), size or SPAN_BYTES
            cuts, line, start = [], 1, 0
            while start < total:
                file.seek(start + size)
                file.readline()  # on to the next line's start (or the end)
                end = min(file.tell(), total)
                file.seek(start)
                cuts.append(Span(start, end, line))
                line += file.read(end - start).count(b"\n")
                start = end
            return cuts
    except OSError as exc:
        raise HistoryError(str(path), None, f"cannot read: {exc.strerror}") from None


@dataclass(frozen=True)
class Plan:
    """How a file splits: its byte ranges (None: read whole) and its shards, both from the file alone."""

    spans: list[Span] | None
    shards: int

    @staticmethod
    def of(path: str | Path) -> "Plan":
        try:
            shards = max(1, -(-Path(path).stat().st_size // SHARD_BYTES))
        except OSError:
            shards = 1  # read_history says why it cannot read the file
        return Plan(spans(path), shards)

    def processes(self, wanted: int) -> int:
        """One (this one) for a file of one range and one shard: a spawned process takes about a second to
        start, more than such a file (a few thousand prospects) takes to read and replay."""
        return 1 if len(self.spans or [None]) == 1 and self.shards == 1 else wanted


@dataclass(frozen=True)
class Split:
    """A range read: its rows, (file, rows) per shard (None where no prospect of the range fell), and its first
    row without a prospect as (line, reason), line None when the file itself is unreadable."""

    rows: int
    files: tuple[tuple[str, int] | None, ...]
    error: tuple[int | None, str] | None = None


def _split(task: tuple[str, Span | None, Rules, int, str, int]) -> Split:
    """Rows filed by prospect, unconverted (a row is converted once, in the shard's replay): [line, row] pairs,
    one orjson blob per shard. The range stops at its first row without a prospect key."""
    path, span, rules, shards, directory, index = task
    buckets: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in range(shards)]
    convert, error = RowConverter(rules), None
    try:
        for line, row in read_rows(path, span):
            try:
                if isinstance(row, RowError):
                    raise row
                buckets[shard_of(convert.key(row), shards)].append((line, row))
            except RowError as exc:
                error = (line, str(exc))
                break
    except HistoryError as exc:  # the file itself: unreadable, a bad CSV header
        error = (exc.line, exc.reason)
    files: list[tuple[str, int] | None] = []
    for shard, bucket in enumerate(buckets):
        if not bucket:
            files.append(None)
            continue
        name = Path(directory) / f"shard{shard:05d}-range{index:06d}.json"
        name.write_bytes(orjson.dumps(bucket))
        files.append((str(name), len(bucket)))
    return Split(sum(map(len, buckets)), tuple(files), error)


@dataclass(frozen=True)
class ShardFiles:
    """One shard of the file, a replay chunk (``replay_pool.Source``); ``count`` is its rows."""

    path: str  # the history file, for FILE:LINE
    rules: Rules
    parts: tuple[str, ...]
    count: int

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for part in self.parts:  # in file order
            for line, row in orjson.loads(Path(part).read_bytes()):
                yield line, row

    def histories(self) -> list[tuple[str, list[Input]]]:
        """Converted as ``read_history`` converts (HistoryError at a bad row), merged by prospect."""
        groups: dict[str, dict[str, Input]] = {}
        for _, record in convert_rows(self.rows(), self.path, self.rules):
            group = groups.setdefault(key_of(record), {})
            group.setdefault(record.event_id, record)  # a row repeated in the file counts once
        return [(key, canonical_order(list(group.values()))) for key, group in sorted(groups.items())]


def _first_error(shard: ShardFiles) -> HistoryError | None:
    try:
        for _ in convert_rows(shard.rows(), shard.path, shard.rules):
            pass
    except HistoryError as error:
        return error
    return None


def read_shards(path: str | Path, plan: Plan, rules: Rules, mapper: Mapper, directory: str,
                progress: Progress | None = None) -> list[ShardFiles]:
    """The file read on ``mapper``'s workers into shard files under ``directory``; HistoryError at the first bad
    row met while filing rows (``first_bad_row`` finds the first of the file)."""
    tasks = [(str(path), span, rules, plan.shards, directory, index)
             for index, span in enumerate(plan.spans or [None])]
    done: list[Split] = []
    for split in mapper(_split, tasks):
        done.append(split)
        if progress is not None:
            progress.advance(split.rows)
    names: list[list[str]] = [[] for _ in range(plan.shards)]
    counts = [0] * plan.shards
    for split in done:
        for shard, written in enumerate(split.files):
            if written is not None:
                names[shard].append(written[0])
                counts[shard] += written[1]
    shards = [ShardFiles(str(path), rules, tuple(names[shard]), counts[shard]) for shard in range(plan.shards)
              if names[shard]]
    errors = [HistoryError(str(path), *split.error) for split in done if split.error is not None]
    if errors:
        raise first_bad_row(shards, mapper, errors[0])
    return shards


def first_bad_row(shards: list[ShardFiles], mapper: Mapper, found: HistoryError) -> HistoryError:
    """The file's first bad row, as reading it in one process meets it: ``found`` or an earlier one in a shard.
    (A shard stops at its first bad row and a range at its first row without a prospect, so the first of all is
    among those.)"""
    if found.line is None:
        return found  # the file itself
    errors = [found, *(error for error in mapper(_first_error, shards) if error is not None)]
    return min(errors, key=lambda error: error.line or 0)
