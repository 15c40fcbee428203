"""Throughput of one `leadflow worker` process through the real (embedded) broker, and its memory per prospect.

Pre-loads N synthetic interactions (the same Zipf-distributed mix as bench/core.py) onto
the interactions topic, starts one worker, and times it from its first processed input to
its last, reading its own metrics. Memory per prospect is the growth of the worker's
resident set over the run, divided by the prospects it holds.

Run: .venv/bin/python bench/worker.py [--events 200000] [--prospects 20000] [--batch 1000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterable

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.core import synthetic  # noqa: E402
from bench.embedded_stack import embedded_kafka, leadflow_process  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import Config  # noqa: E402
from leadflow.kafka import new_producer  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from schemas.records import Interaction  # noqa: E402


async def preload(config: Config, events: Iterable[Interaction], total: int) -> None:
    """``total`` interactions onto the interactions topic, acknowledged, with progress (a generator will do)."""
    topic, codec = config.topic("interactions"), Codec()
    producer = new_producer(config, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for n, event in enumerate(events, start=1):
            pending.append(await producer.send(topic, key=event.prospect_key.encode(), value=codec.encode(event, topic)))
            if n % 20_000 == 0 or n == total:
                await asyncio.gather(*pending)
                pending.clear()
                print(f"\r  preloaded {n:,}/{total:,}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        await producer.stop()


def metric(url: str, name: str) -> float:
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return 0.0
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--prospects", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="LEADFLOW_WORKER_BATCH_SIZE")
    parser.add_argument("--wait-ms", type=int, default=20, help="LEADFLOW_WORKER_BATCH_WAIT_MS")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.events, args.prospects = 2_000, 200
    (metrics_port,) = free_ports(1)
    with embedded_kafka(worker_metrics_port=metrics_port, worker_batch_size=args.batch,
                        worker_batch_wait_ms=args.wait_ms) as config:
        events = synthetic(args.events, args.prospects)
        asyncio.run(preload(config, events, len(events)))
        with leadflow_process("worker", config) as worker:
            run(worker, f"http://127.0.0.1:{metrics_port}/metrics", len({e.prospect_key for e in events}), args)


def run(worker: subprocess.Popen, url: str, prospects: int, args: argparse.Namespace) -> None:
    process = psutil.Process(worker.pid)
    while metric(url, "leadflow_worker_ready") < 1:
        if worker.poll() is not None:
            sys.exit("the worker exited before it was ready")
        time.sleep(0.05)
    baseline = process.memory_info().rss
    processed = 0.0
    while processed == 0:
        processed = metric(url, "leadflow_worker_events_processed_total")
        time.sleep(0.01)
    started = time.perf_counter()
    deadline = time.monotonic() + 600
    while processed < args.events and time.monotonic() < deadline:
        time.sleep(1.0)
        processed = metric(url, "leadflow_worker_events_processed_total")
        elapsed = time.perf_counter() - started
        print(f"\r  processed {processed:,.0f}/{args.events:,} ({processed / elapsed:,.0f}/s)", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    elapsed = time.perf_counter() - started
    grown = process.memory_info().rss - baseline
    lead_events = metric(url, "leadflow_worker_lead_events_total")
    print(f"worker: {processed:,.0f} events over {prospects:,} prospects in {elapsed:.2f}s = "
          f"{processed / elapsed:,.0f} events/s (batch {args.batch}, wait {args.wait_ms} ms, one process, "
          "embedded broker)")
    print(f"lead events emitted: {lead_events:,.0f} (lead.updated coalesced per prospect and batch)")
    print(f"memory: worker RSS grew {grown / 2**20:,.1f} MiB = {grown / prospects / 1024:.1f} KiB per prospect")

if __name__ == "__main__":
    main()
