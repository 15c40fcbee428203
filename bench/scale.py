"""One worker process against a marketing database of N names: throughput, memory, disk, changelog, restart.

A realistic names distribution: most names have 1-5 interactions (a newsletter sign-up, a
few page views), and a Zipf head of hot prospects (1% of the names) takes as many events
again. The events are preloaded onto the embedded broker in a shuffled order (a name's
next event comes long after its last, when the worker's cache has usually let it go), then
one `leadflow worker` (RocksDB store, the default cache) processes them. For each N it
prints events/s, the worker's peak resident memory, the store's disk per prospect, the
changelog bytes written per input and kept per prospect (the newest record of each key,
as a compacted topic keeps them), and the time a restarted worker takes to be ready with
the N prospects on disk; with several N it plots throughput and memory against N.

Run: .venv/bin/python bench/scale.py [--prospects 10000 100000 1000000] [--cache 50000] [--block-cache 128]
     [--seed 1] [--smoke]
Writes bench/results/scale.html (not with --smoke). Targets (issue 18): at 1M prospects at least 10,000
events/s and under 1.5 GiB resident; 1M within 25% of 10k's events/s; restart to ready under 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.core import MIX, URLS  # noqa: E402
from bench.embedded_stack import embedded_kafka, leadflow_process  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from bench.worker import metric, preload  # noqa: E402
from leadflow.config import Config  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from leadflow.svg_charts import line_chart  # noqa: E402
from schemas.records import Interaction  # noqa: E402
from streams.store import open_store  # noqa: E402

PLOT = Path(__file__).with_name("results") / "scale.html"
HEAD_SHARE = 0.01  # the hot names, 1% of them, take as many events again as the rest together


def names(prospects: int, seed: int) -> list[int]:
    """Each event's name (an index), in the order they happen: 1-5 each (mostly 1-2), plus the Zipf head."""
    rng = random.Random(seed)
    counts = [min(5, 1 + int(rng.expovariate(1.0))) for _ in range(prospects)]
    head = max(1, int(prospects * HEAD_SHARE))
    for name in rng.choices(range(head), [1 / (rank + 1) for rank in range(head)], k=prospects):
        counts[name] += 1
    order = [name for name, count in enumerate(counts) for _ in range(count)]
    rng.shuffle(order)
    return order


def events(order: list[int], seed: int) -> Iterator[Interaction]:
    rng = random.Random(seed + 1)
    types = rng.choices([t for t, _ in MIX], [w for _, w in MIX], k=len(order))
    start = 1_767_000_000_000
    for n, (name, type_) in enumerate(zip(order, types)):
        pid = f"p_{name:08x}"
        at = start + n * 20
        yield Interaction(event_id=f"e{n}", prospect_key=pid, prospect_id=pid, email=f"{pid}@example.com",
                          type=type_, occurred_at=at, received_at=at, source="bench",
                          url=rng.choice(URLS) if type_ == "page.viewed" else None)


def wait_ready(worker: subprocess.Popen, url: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while metric(url, "leadflow_worker_ready") < 1:
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit("the worker exited (or took too long) before it was ready")
        time.sleep(0.02)


def measure(prospects: int, cache: int, seed: int, block_cache_mb: int) -> dict[str, float]:
    order = names(prospects, seed)
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}/metrics"
    with embedded_kafka(worker_metrics_port=port, state_cache=cache, state_block_cache_mb=block_cache_mb) as config:
        asyncio.run(preload(config, events(order, seed), len(order)))
        with leadflow_process("worker", config) as worker:
            process = psutil.Process(worker.pid)
            wait_ready(worker, url)
            processed, peak = 0.0, 0
            while processed == 0:
                processed = metric(url, "leadflow_worker_events_processed_total")
                time.sleep(0.01)
            started = time.perf_counter()
            while processed < len(order):
                time.sleep(0.5)
                processed = metric(url, "leadflow_worker_events_processed_total")
                peak = max(peak, process.memory_info().rss)
                print(f"\r  N={prospects:,}: processed {processed:,.0f}/{len(order):,} "
                      f"({processed / (time.perf_counter() - started):,.0f}/s, {peak / 2**20:,.0f} MiB)", end="",
                      file=sys.stderr, flush=True)
                if worker.poll() is not None:
                    sys.exit("the worker exited mid-run")
            elapsed = time.perf_counter() - started
            print(file=sys.stderr)
            time.sleep(config.worker_checkpoint_ms / 1000 + 1.0)  # the last checkpoint written
            written = metric(url, "leadflow_worker_changelog_bytes_total")
        disk = sum(f.stat().st_size for f in (config.state_dir / config.topic_prefix).rglob("*") if f.is_file())
        kept = 0  # what a compacted changelog keeps: the newest record of each key, uncompressed
        for partition in range(config.partitions):
            store = open_store(config, partition)
            kept += sum(len(key) + len(value) for key, value in store.items())
            store.close()
        restart = time.perf_counter()
        with leadflow_process("worker", config) as again:
            wait_ready(again, url)
            ready_s = time.perf_counter() - restart
    return {"prospects": prospects, "events": len(order), "rate": len(order) / elapsed, "rss": peak,
            "disk": disk / prospects, "changelog": written / len(order), "kept": kept / prospects, "ready": ready_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cache", type=int, default=Config().state_cache, help="LEADFLOW_STATE_CACHE")
    parser.add_argument("--block-cache", type=int, default=Config().state_block_cache_mb,
                        help="LEADFLOW_STATE_BLOCK_CACHE_MB")
    parser.add_argument("--seed", type=int, default=1)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.prospects, args.cache = [2_000], 500
    rows = []
    for prospects in args.prospects:
        row = measure(prospects, args.cache, args.seed, args.block_cache)
        rows.append(row)
        print(f"scale: {prospects:,} prospects, {row['events']:,} events at {row['rate']:,.0f} events/s, "
              f"peak RSS {row['rss'] / 2**20:,.0f} MiB, disk {row['disk']:,.0f} B per prospect, "
              f"changelog {row['changelog']:,.0f} B per input ({row['kept']:,.0f} B per prospect after compaction), "
              f"restart to ready {row['ready']:.2f} s "
              f"(cache {args.cache:,} prospects, block cache {args.block_cache:,} MiB)", flush=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"throughput at {last['prospects']:,} prospects is {last['rate'] / first['rate']:.2f}x that at "
              f"{first['prospects']:,} (target: within 25%)")
    if not args.smoke and len(rows) > 1:
        x = [row["prospects"] / 1000 for row in rows]
        PLOT.parent.mkdir(exist_ok=True)
        PLOT.write_text("<!doctype html><meta charset=utf-8><title>leadflow worker at scale</title>" + line_chart("Worker throughput", x, [("events/s", [r["rate"] for r in rows])],
                                             "prospects (thousands)", "events/s")
                        + line_chart("Worker peak resident memory", x,
                                     [("MiB", [r["rss"] / 2**20 for r in rows])], "prospects (thousands)", "MiB"))
        print(f"plot: {PLOT}")


if __name__ == "__main__":
    main()
