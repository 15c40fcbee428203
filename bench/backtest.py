"""Throughput of `leadflow backtest`: a million prospects' histories replayed under the shipped model on every core.

Run: .venv/bin/python bench/backtest.py [--prospects 1000000] [--processes 2] [--seed 1]
     [--generator synthetic|heavy] [--smoke]

First the histories are made, untimed, by the worker processes, chunk by chunk, and kept as the encoded chunks
the command sends its workers (``replay_pool.encode``), in a temporary directory. Then the timed part is the
command's own path: the chunks decoded and replayed in the worker processes (``replay_pool.backtest``), the
tallies merged in order, the report computed. It prints `backtest: N prospects, M inputs in X s (Y prospects/s,
P processes)`. Target (issue 17): 1M prospects in under 2 minutes on this 2-core machine. Not timed: reading the
changelog or a history file, and the parent's encoding, which the command also does.

Generators: ``synthetic`` (default) is `leadflow synthetic`'s (``leadflow.synthetic_history``: personas, a
known ground truth, sales' verdicts on the shipped model's leads; about 4 inputs per prospect); ``heavy`` is
this file's own, with more inputs per prospect (a heavy tail of up to 400, 9.3 on average) and random
outcomes for about one prospect in five: more replay per prospect.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import DEFAULT_MODEL  # noqa: E402
from leadflow.replay_pool import Progress, Seconds, backtest, decode, encode, record  # noqa: E402
from schemas.records import Interaction  # noqa: E402
from streams.core.backtest import Window, default_thresholds, report  # noqa: E402
from streams.core.history import Input, canonical_order  # noqa: E402
from streams.core.model import parse_model  # noqa: E402

DAY = 86_400_000
START = 1_735_689_600_000  # 2025-01-01
CHUNK = 5_000
MIX = (("page.viewed", 0.45), ("email.delivered", 0.15), ("email.opened", 0.18), ("email.clicked", 0.08),
       ("form.submitted", 0.04), ("asset.downloaded", 0.04), ("webinar.attended", 0.03), ("email.bounced", 0.02),
       ("profile.updated", 0.01))
URLS = ("https://example.com/", "https://example.com/pricing", "https://example.com/blog/a",
        "https://example.com/docs", "https://example.com/product")
FORMS = ("demo-request", "newsletter", "contact")
TITLES = ("VP Marketing", "Engineer", "Head of Sales", "Analyst", "Director of IT", "Student")


def synthetic(seed: int, first: int, count: int) -> list[tuple[str, list[Input]]]:
    """`leadflow synthetic`'s prospects ``first`` .. ``first + count - 1``, as the history reader builds them."""
    from leadflow.synthetic_history import Generator, Settings

    generator = Generator(Settings(prospects=first + count, seed=seed))
    out = []
    for index in range(first, first + count):
        records = [generator.convert.record(row) for row in generator.prospect(index)]
        if records:
            first_record = records[0]
            key = first_record.prospect_key if type(first_record) is Interaction else first_record.prospect_id
            out.append((key, canonical_order(records)))
    return out


def heavy(seed: int, first: int, count: int) -> list[tuple[str, list[Input]]]:
    """This benchmark's own prospects: many inputs each, random outcomes."""
    rng = random.Random(seed * 1_000_003 + first)
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    out = []
    for index in range(first, first + count):
        key = f"p_{index:032x}"
        email = f"{key}@example.com"
        n = min(2 + int(rng.paretovariate(1.3) * 2), 400)
        at = START + rng.randrange(330) * DAY
        inputs: list[Input] = []
        for k, type_ in enumerate(rng.choices(types, weights, k=n)):
            at += rng.randrange(1, 4 * DAY)
            url = rng.choice(URLS) if type_ == "page.viewed" else None
            form = rng.choice(FORMS) if type_ == "form.submitted" else None
            traits = {"job_title": rng.choice(TITLES), "country": "US"} if type_ == "profile.updated" else {}
            inputs.append(record("i", (f"{key}-{k}", key, type_, at, at, "bench", key, None, email, url, None,
                                       None, None, None, form, None, None, False, {}, traits, None)))
        if n >= 5 and rng.random() < 0.5:  # sales judged about one prospect in five
            verdict = at + rng.randrange(1, 10) * DAY
            fate = rng.random()
            kinds = ["disqualified"] if fate < 0.5 else ["accepted", "lost"] if fate < 0.7 else \
                ["accepted"] if fate < 0.8 else ["accepted", "won"]
            for v, kind in enumerate(kinds):
                value = float(rng.randrange(5, 80) * 1000) if kind == "won" else None
                when = verdict + v * 14 * DAY
                inputs.append(record("v", (f"{key}-v{v}", key, kind, when, when, value, None, None)))
        out.append((key, inputs))
    return out


GENERATORS = {"synthetic": synthetic, "heavy": heavy}


@dataclass(frozen=True)
class EncodedFile:
    """A chunk of encoded histories on disk: what a worker reads instead of receiving it through a pipe."""

    path: str
    count: int

    def histories(self) -> list[tuple[str, list[Input]]]:
        return decode(Path(self.path).read_bytes())


def _make(task: tuple[str, int, int, int, str]) -> tuple[EncodedFile, int]:
    name, seed, first, count, directory = task
    histories = GENERATORS[name](seed, first, count)
    path = Path(directory) / f"chunk-{first:09d}.json"
    path.write_bytes(encode(histories))
    return EncodedFile(str(path), len(histories)), sum(len(inputs) for _, inputs in histories)


def make_histories(name: str, seed: int, prospects: int, processes: int, directory: str) -> list[EncodedFile]:
    tasks = [(name, seed, first, min(CHUNK, prospects - first), directory) for first in range(0, prospects, CHUNK)]
    progress = Progress(f"generating ({name})", prospects, unit="prospects")
    chunks = []
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for chunk, _ in pool.imap(_make, tasks):
            chunks.append(chunk)
            progress.advance(chunk.count)
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generator", choices=sorted(GENERATORS), default="synthetic")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.prospects = 4_000
    text = DEFAULT_MODEL.read_text()
    model = parse_model(text, str(DEFAULT_MODEL))
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as directory:
        started = time.perf_counter()
        chunks = make_histories(args.generator, args.seed, args.prospects, args.processes, directory)
        made = time.perf_counter() - started
        seconds = Seconds()
        started = time.perf_counter()
        total = backtest(chunks, text, str(DEFAULT_MODEL), model, default_thresholds(model), Window(),
                         args.processes, Progress("backtest", sum(c.count for c in chunks)), seconds)
        figures = report(total, model)
        elapsed = time.perf_counter() - started
    row = figures.row_at(model.promote_threshold)
    print(f"backtest: {figures.prospects:,} prospects, {figures.inputs:,} inputs in {elapsed:.1f} s "
          f"({figures.prospects / elapsed:,.0f} prospects/s, {args.processes} processes)")
    print(f"worker CPU: {seconds.loading:.1f} s decoding the chunks, {seconds.replaying:.1f} s replaying them "
          f"({figures.inputs / max(seconds.replaying, 1e-9):,.0f} inputs/s per process); histories made "
          f"beforehand by the `{args.generator}` generator in {made:.1f} s (not timed)")
    print(f"at threshold {model.promote_threshold:g}: {row.leads:,} leads, {row.judged:,} judged, "
          f"{row.unknown:,} outcome unknown, reject rate "
          f"{'-' if row.reject_rate is None else f'{row.reject_rate:.1%}'}")


if __name__ == "__main__":
    main()
