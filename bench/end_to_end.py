"""End-to-end latency: the collector receiving an event -> its row committed in the CRM's crm_lead_activities.

Runs the whole pipeline as separate processes on this machine (embedded broker, embedded
PostgreSQL, `leadflow collector`, `worker` and `sink`), posts events to the events API at a
sustained rate, and reads each event's latency from the database: ``inserted_at`` (written
with clock_timestamp() inside the sink's transaction) minus the event's own ``timestamp``,
which the sender sets to the moment it posts (so HTTP time is included). Every prospect's
first event is a demo-request form (promoted at once under the shipped model), the rest a
mix of page views, email opens and clicks, so every event must end up as one activity row:
the benchmark checks that none is missing.

Run: .venv/bin/python bench/end_to_end.py [--rate 2000] [--seconds 60] [--prospects 20000] [--checkpoint-ms 1000]
[--smoke]. Writes the histogram to bench/results/end_to_end_latency.svg (with --smoke: to a temp dir, or --plot).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import histogram  # noqa: E402
from bench.embedded_stack import BENCH_SECRETS, embedded_kafka, leadflow_process  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from bench.worker import metric  # noqa: E402
from connectors.crm.migrations import migrate  # noqa: E402
from leadflow.embedded.postgres import EmbeddedPostgres  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from tests.processes import wait_for_http  # noqa: E402

WRITE_KEY = BENCH_SECRETS["write_key"]
FOLLOW_UPS = [("page", None, 0.5), ("track", "email.opened", 0.3), ("track", "email.clicked", 0.2)]
REQUEST_EVERY_S = 0.05
PLOT = Path(__file__).with_name("results") / "end_to_end_latency.svg"


def item(prospect: int, first: bool, at: float, n: int, rng: random.Random) -> dict:
    stamp = datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")
    base = {"email": f"bench{prospect}@example.com", "messageId": f"m{n}", "timestamp": stamp}
    if first:
        return {**base, "type": "track", "event": "form.submitted", "properties": {"form_id": "demo-request"}}
    kind, event, _ = rng.choices(FOLLOW_UPS, [w for *_, w in FOLLOW_UPS])[0]
    if kind == "page":
        return {**base, "type": "page", "properties": {"url": f"https://example.com/docs/{n % 50}"}}
    return {**base, "type": "track", "event": event}


async def send(url: str, rate: int, seconds: int, prospects: int) -> tuple[int, int]:
    """Post ``rate`` events/s for ``seconds``; returns (sent, accepted)."""
    rng = random.Random(11)
    started: set[int] = set()
    per_request = max(1, round(rate * REQUEST_EVERY_S))
    total = rate * seconds
    auth = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    accepted = 0
    gate = asyncio.Semaphore(16)

    async def post(session: aiohttp.ClientSession, batch: list[dict]) -> None:
        nonlocal accepted
        async with gate:
            async with session.post(url, json={"batch": batch}, headers=auth) as response:
                body = await response.json()
                if response.status != 200 or body.get("errors"):
                    print(f"\n  refused: {response.status} {body}", file=sys.stderr)
                accepted += body.get("accepted", 0)

    async with aiohttp.ClientSession() as session:
        tasks = []
        begin = time.monotonic()
        for n0 in range(0, total, per_request):
            due = begin + n0 / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.time()
            batch = []
            for n in range(n0, min(total, n0 + per_request)):
                prospect = rng.randrange(prospects)
                batch.append(item(prospect, prospect not in started, now, n, rng))
                started.add(prospect)
            tasks.append(asyncio.create_task(post(session, batch)))
            if n0 % rate < per_request:
                print(f"\r  sent {n0 + len(batch):,}/{total:,} ({time.monotonic() - begin:.0f}s)", end="",
                      file=sys.stderr, flush=True)
        await asyncio.gather(*tasks)
        print(f"\r  sent {total:,} in {time.monotonic() - begin:.1f}s", file=sys.stderr)
    return total, accepted


def latencies(dsn: str) -> list[float]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(
            "SELECT extract(epoch FROM inserted_at - occurred_at)::float8 FROM crm_lead_activities")]


def windows(dsn: str, seconds: int = 10) -> list[tuple[int, float, float]]:
    """(window start in s from the first event, p50, p99) per window: is the latency steady over the run?"""
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"""
            WITH l AS (SELECT extract(epoch FROM occurred_at) AS at, extract(epoch FROM inserted_at - occurred_at) AS s
                       FROM crm_lead_activities)
            SELECT (floor((at - (SELECT min(at) FROM l)) / {seconds}) * {seconds})::int AS w,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY s)::float8,
                   percentile_disc(0.99) WITHIN GROUP (ORDER BY s)::float8
            FROM l GROUP BY 1 ORDER BY 1""").fetchall()


def rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM crm_lead_activities").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--prospects", type=int, default=20000)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--checkpoint-ms", type=int, default=1000, help="LEADFLOW_WORKER_CHECKPOINT_MS")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.prospects = 200, 3, 100
        if args.plot == PLOT:
            args.plot = Path(tempfile.mkdtemp(prefix="leadflow-bench-")) / PLOT.name
    http_port, worker_port, sink_port, pg_port = free_ports(4)
    with ExitStack() as stack:
        config = stack.enter_context(embedded_kafka(
            http_port=http_port, worker_metrics_port=worker_port, sink_metrics_port=sink_port,
            worker_checkpoint_ms=args.checkpoint_ms))
        postgres = EmbeddedPostgres(config.data_dir / "pgdata", "127.0.0.1", pg_port, config.data_dir / "pg.log")
        dsn = postgres.start()
        stack.callback(postgres.stop)
        migrate(dsn)
        config = config.with_changes(crm_dsn=dsn)
        for command in ("worker", "sink", "collector"):
            stack.enter_context(leadflow_process(command, config))
        if not wait_for_http(f"http://127.0.0.1:{http_port}/readyz", 30):
            sys.exit("the collector did not become ready")
        time.sleep(3)  # the worker and the sink join their groups
        sent, accepted = asyncio.run(send(f"http://127.0.0.1:{http_port}/v1/events", args.rate, args.seconds,
                                          args.prospects))
        deadline = time.monotonic() + 60
        while (arrived := rows(dsn)) < accepted and time.monotonic() < deadline:
            print(f"\r  in the CRM: {arrived:,}/{accepted:,}", end="", file=sys.stderr, flush=True)
            time.sleep(0.5)
        print(file=sys.stderr)
        measured = sorted(latencies(dsn))
        over_time = windows(dsn)
        worker, sink = f"http://127.0.0.1:{worker_port}/metrics", f"http://127.0.0.1:{sink_port}/metrics"
        checkpoints = metric(worker, "leadflow_worker_checkpoint_seconds_sum"), \
            metric(worker, "leadflow_worker_checkpoint_seconds_count"), \
            metric(worker, "leadflow_worker_checkpoint_pause_seconds_sum")
        writes = metric(sink, "leadflow_sink_write_seconds_sum"), metric(sink, "leadflow_sink_write_seconds_count"), \
            metric(sink, "leadflow_sink_records_total")
    p50, p95, p99 = (histogram.percentile(measured, q) for q in (50, 95, 99))
    print(f"end to end (collector -> crm_lead_activities row committed), {args.rate:,} events/s for "
          f"{args.seconds} s, {args.prospects:,} prospects, all processes on this machine:")
    print(f"  sent {sent:,}, accepted {accepted:,}, in the CRM {len(measured):,}, missing {accepted - len(measured):,}")
    print(f"  p50 {p50 * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, "
          f"max {measured[-1] * 1000:,.0f} ms")
    print("  over time: " + ", ".join(f"{start}s p50 {p50_ * 1000:,.0f} / p99 {p99_ * 1000:,.0f} ms"
                                      for start, p50_, p99_ in over_time))
    if checkpoints[1]:
        print(f"  worker checkpoints: {checkpoints[1]:,.0f} (every {args.checkpoint_ms} ms), scoring paused "
              f"{checkpoints[2] / checkpoints[1] * 1000:,.0f} ms for each snapshot, storing took "
              f"{checkpoints[0] / checkpoints[1] * 1000:,.0f} ms on average")
    if writes[1]:
        print(f"  sink: {writes[1]:,.0f} batches of {writes[2] / writes[1]:,.0f} lead/SLA events on average, "
              f"{writes[0] / writes[1] * 1000:,.1f} ms per database write")
    edges = histogram.log_bins(measured[0], measured[-1] * 1.0001, 16)
    print(histogram.terminal(measured, edges))
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    histogram.svg(measured, args.plot, f"End-to-end latency, {args.rate:,} events/s for {args.seconds} s "
                  f"({len(measured):,} events)", {"p50": p50, "p95": p95, "p99": p99})
    print(f"  histogram: {args.plot}")


if __name__ == "__main__":
    main()
