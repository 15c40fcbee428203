"""Throughput of `leadflow backtest`: a seeded synthetic history replayed under the shipped model on every core.

Run: .venv/bin/python bench/backtest.py [--prospects 1000000] [--processes 2] [--seed 17] [--smoke]
Prints `backtest: N prospects, M inputs in X s (Y prospects/s, P processes)`: wall time from the first chunk
sent to the merged report, the histories generated inside the worker processes chunk by chunk (as the command
decodes its chunks there), so X includes making them; the next line splits the workers' CPU time between
generating and replaying. Target (issue 17): 1M prospects in under 2 minutes on this 2-core machine.

The generator is this file's own (``Synthetic``): per prospect, a heavy-tailed number of interactions (most
have a handful, a few hundreds) of a realistic mix over a year, and for about one in five a sales outcome.
TODO(issue 17): swap it for ``leadflow.synthetic_history`` (the ground-truth generator of `leadflow synthetic`)
once that is on main, keeping generation inside the workers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import DEFAULT_MODEL  # noqa: E402
from leadflow.replay_pool import Progress, Seconds, backtest, record  # noqa: E402
from streams.core.backtest import Window, default_thresholds, report  # noqa: E402
from streams.core.history import Input  # noqa: E402
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


@dataclass(frozen=True)
class Synthetic:
    """Prospects ``first`` .. ``first + count - 1`` of the seeded history: a chunk a worker makes itself."""

    seed: int
    first: int
    count: int

    def histories(self) -> list[tuple[str, list[Input]]]:
        rng = random.Random(self.seed * 1_000_003 + self.first)
        types = [t for t, _ in MIX]
        weights = [w for _, w in MIX]
        out = []
        for index in range(self.first, self.first + self.count):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=17)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.prospects = 4_000
    text = DEFAULT_MODEL.read_text()
    model = parse_model(text, str(DEFAULT_MODEL))
    chunk = min(CHUNK, max(1, args.prospects // (4 * max(args.processes, 1))))
    sources = [Synthetic(args.seed, first, min(chunk, args.prospects - first))
               for first in range(0, args.prospects, chunk)]
    seconds = Seconds()
    started = time.perf_counter()
    total = backtest(sources, text, str(DEFAULT_MODEL), model, default_thresholds(model), Window(), args.processes,
                     Progress("backtest", args.prospects), seconds)
    figures = report(total, model)
    elapsed = time.perf_counter() - started
    row = figures.row_at(model.promote_threshold)
    print(f"backtest: {figures.prospects:,} prospects, {figures.inputs:,} inputs in {elapsed:.1f} s "
          f"({figures.prospects / elapsed:,.0f} prospects/s, {args.processes} processes)")
    print(f"worker CPU: {seconds.loading:.1f} s generating the histories, {seconds.replaying:.1f} s replaying them "
          f"({figures.inputs / max(seconds.replaying, 1e-9):,.0f} inputs/s per process)")
    print(f"at threshold {model.promote_threshold:g}: {row.leads:,} leads, {row.judged:,} judged, "
          f"{row.unknown:,} outcome unknown, reject rate "
          f"{'-' if row.reject_rate is None else f'{row.reject_rate:.1%}'}")


if __name__ == "__main__":
    main()
