"""Throughput of `leadflow backtest --data FILE`: a million prospects' history file read and replayed under the
shipped model on every core.

Run: .venv/bin/python bench/backtest.py [--prospects 1000000] [--processes 2] [--seed 1]
     [--generator synthetic|heavy] [--smoke]

First the history file is written, untimed, in a temporary directory (JSON lines, as `leadflow import` reads).
Then the timed part is the command's whole path from that file on disk (``tuning_commands.backtest_tally``):
the workers read the file in byte ranges into shards (``leadflow.history_shards``), merge and replay each
shard (``replay_pool``), the tallies are merged in order, the report computed. It prints `backtest: N
prospects, M inputs in X s (Y prospects/s, P processes)`. Target (issue 17): 1M prospects in under 2 minutes
on this 2-core machine. Not timed: printing the report (milliseconds) and the model's parse.

Generators: ``synthetic`` (default) is `leadflow synthetic`'s (``leadflow.synthetic_file.write_history``:
personas, a known ground truth, sales' verdicts on the shipped model's leads; about 4 rows per prospect);
``heavy`` is this file's own, with more rows per prospect (a heavy tail of up to 400, 9.3 on average) and
random outcomes for about one prospect in five: more reading and replay per prospect.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import DEFAULT_MODEL, Config  # noqa: E402
from leadflow.replay_pool import Progress, Seconds  # noqa: E402
from leadflow.synthetic_file import write_history  # noqa: E402
from leadflow.synthetic_history import Settings  # noqa: E402
from leadflow.tuning_commands import backtest_tally  # noqa: E402
from streams.core.backtest import Window, default_thresholds, report  # noqa: E402
from streams.core.model import parse_model  # noqa: E402

DAY = 86_400_000
START = 1_609_459_200_000  # 2021-01-01: the heavy tail of 400 rows, two days apart, still ends in the past
CHUNK = 5_000
MIX = (("page.viewed", 0.45), ("email.delivered", 0.15), ("email.opened", 0.18), ("email.clicked", 0.08),
       ("form.submitted", 0.04), ("asset.downloaded", 0.04), ("webinar.attended", 0.03), ("email.bounced", 0.02),
       ("profile.updated", 0.01))
URLS = ("https://example.com/", "https://example.com/pricing", "https://example.com/blog/a",
        "https://example.com/docs", "https://example.com/product")
FORMS = ("demo-request", "newsletter", "contact")
TITLES = ("VP Marketing", "Engineer", "Head of Sales", "Analyst", "Director of IT", "Student")


def heavy(seed: int, first: int, count: int) -> list[dict[str, Any]]:
    """This benchmark's own prospects ``first`` .. ``first + count - 1`` as history-file rows: many each, random
    outcomes."""
    rng = random.Random(seed * 1_000_003 + first)
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    out: list[dict[str, Any]] = []
    for index in range(first, first + count):
        key = f"p{index:09d}"
        email = f"{key}@example.com"
        n = min(2 + int(rng.paretovariate(1.3) * 2), 400)
        at = START + rng.randrange(330) * DAY
        for k, type_ in enumerate(rng.choices(types, weights, k=n)):
            at += rng.randrange(1, 4 * DAY)
            row: dict[str, Any] = {"kind": "interaction", "event_id": f"{key}-{k}", "occurred_at": at,
                                   "email": email, "type": type_}
            if type_ == "page.viewed":
                row["url"] = rng.choice(URLS)
            elif type_ == "form.submitted":
                row["form_id"] = rng.choice(FORMS)
            elif type_ == "profile.updated":
                row["traits"] = {"title": rng.choice(TITLES), "country": "US"}
            out.append(row)
        if n >= 5 and rng.random() < 0.5:  # sales judged about one prospect in five
            verdict = at + rng.randrange(1, 10) * DAY
            fate = rng.random()
            kinds = ["disqualified"] if fate < 0.5 else ["accepted", "lost"] if fate < 0.7 else \
                ["accepted"] if fate < 0.8 else ["accepted", "won"]
            for v, kind in enumerate(kinds):
                outcome: dict[str, Any] = {"kind": "outcome", "event_id": f"{key}-v{v}",
                                           "occurred_at": verdict + v * 14 * DAY, "email": email, "verdict": kind}
                if kind == "won":
                    outcome["deal_value"] = float(rng.randrange(5, 80) * 1000)
                out.append(outcome)
    return out


def _heavy_chunk(task: tuple[int, int, int]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in heavy(*task))


def write_file(name: str, seed: int, prospects: int, processes: int, path: Path) -> None:
    """The history file, written by ``processes`` processes in prospect order."""
    if name == "synthetic":
        write_history(path, Settings(prospects=prospects, seed=seed), sys.stderr, jobs=processes)
        return
    tasks = [(seed, first, min(CHUNK, prospects - first)) for first in range(0, prospects, CHUNK)]
    progress = Progress(f"writing ({name})", prospects, unit="prospects")
    with multiprocessing.get_context("spawn").Pool(processes) as pool, open(path, "wb") as out:
        for (_, _, count), data in zip(tasks, pool.imap(_heavy_chunk, tasks)):
            out.write(data)
            progress.advance(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generator", choices=("heavy", "synthetic"), default="synthetic")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.prospects = 4_000
    text = DEFAULT_MODEL.read_text()
    model = parse_model(text, str(DEFAULT_MODEL))
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as directory:
        path = Path(directory) / "history.jsonl"
        started = time.perf_counter()
        write_file(args.generator, args.seed, args.prospects, args.processes, path)
        made, size = time.perf_counter() - started, path.stat().st_size
        seconds = Seconds()
        started = time.perf_counter()
        total = backtest_tally(Config(), str(path), model, text, str(DEFAULT_MODEL), default_thresholds(model),
                               Window(), args.processes, seconds)
        figures = report(total, model)
        elapsed = time.perf_counter() - started
    row = figures.row_at(model.promote_threshold)
    print(f"backtest: {figures.prospects:,} prospects, {figures.inputs:,} inputs in {elapsed:.1f} s "
          f"({figures.prospects / elapsed:,.0f} prospects/s, {args.processes} processes)")
    print(f"worker CPU after reading the file: {seconds.loading:.1f} s converting and merging the shards, "
          f"{seconds.replaying:.1f} s replaying them ({figures.inputs / max(seconds.replaying, 1e-9):,.0f} inputs/s "
          f"per process); the {size / 1e6:,.0f} MB file written beforehand by the `{args.generator}` generator in "
          f"{made:.1f} s (not timed)")
    print(f"at threshold {model.promote_threshold:g}: {row.leads:,} leads, {row.judged:,} judged, "
          f"{row.unknown:,} outcome unknown, reject rate "
          f"{'-' if row.reject_rate is None else f'{row.reject_rate:.1%}'}")


if __name__ == "__main__":
    main()
