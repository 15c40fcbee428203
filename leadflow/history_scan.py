"""A whole history file read once before `leadflow import` publishes anything: its figures (rows, prospects,
time range, whether it is in order) and its errors, so a file with a bad row is refused whole, with the first
errors listed by ``FILE:LINE``, before a single record reaches Kafka."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from leadflow.history_file import HistoryError, Rules, read_history
from schemas.records import Interaction


@dataclass
class HistoryScan:
    """What a whole file holds: the figures `leadflow import` prints, and the first ``limit`` errors."""

    path: str
    errors: list[HistoryError] = field(default_factory=list)
    bad_rows: int = 0  # every bad row, also those past the limit
    unreadable: bool = False  # the file itself could not be read: no row is usable
    interactions: int = 0
    outcomes: int = 0
    prospects: int = 0
    first_at: int | None = None
    last_at: int | None = None
    in_order: bool = True  # the good rows are in canonical order already (event time, then event id)

    @property
    def rows(self) -> int:
        return self.interactions + self.outcomes


def scan_history(path: str | Path, rules: Rules | None = None, limit: int = 20,
                 progress: Callable[[int], None] | None = None) -> HistoryScan:
    """Read the whole file once: its figures and its errors (the first ``limit``, and the count)."""
    scan = HistoryScan(str(path))

    def bad(error: HistoryError) -> None:
        scan.bad_rows += 1
        if len(scan.errors) < limit:
            scan.errors.append(error)

    keys: set[str] = set()
    previous: tuple[int, str] | None = None
    try:
        for count, (_, record) in enumerate(read_history(path, rules, bad), 1):
            if type(record) is Interaction:
                scan.interactions += 1
                keys.add(record.prospect_key)
            else:
                scan.outcomes += 1
                keys.add(record.prospect_id)
            at = record.occurred_at
            scan.first_at = at if scan.first_at is None else min(scan.first_at, at)
            scan.last_at = at if scan.last_at is None else max(scan.last_at, at)
            order = (at, record.event_id)
            if previous is not None and order < previous:
                scan.in_order = False
            previous = order
            if progress is not None and count % 10_000 == 0:
                progress(count)
    except HistoryError as fatal:
        scan.unreadable = True
        scan.errors.insert(0, fatal)
    scan.prospects = len(keys)
    return scan


def check_history(path: str | Path, limit: int = 20, rules: Rules | None = None) -> list[HistoryError]:
    """The file's first ``limit`` errors (none: every row is good)."""
    return scan_history(path, rules, limit).errors
