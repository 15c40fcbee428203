"""End-to-end latency: the collector receiving an event -> its row committed in the CRM's crm_lead_activities,
and -> the Action an automation emits for it on the actions topic.

Runs the whole pipeline as separate processes on this machine (embedded broker, embedded
PostgreSQL, `leadflow collector`, `worker` (with the shipped automation file,
leadflow/models/automations.yaml) and `sink`), posts events to the events API at a
sustained rate, and measures two latencies from the moment the sender posts an event (its
``timestamp``, so HTTP time is included):

- the CRM's: ``inserted_at`` of the event's activity row (written with clock_timestamp()
  inside the sink's transaction) minus the event's ``timestamp``;
- the automations': the broker timestamp of every Action whose ``cause_event_id`` is an event
  the benchmark sent (``api:<messageId>``) minus that event's send time.

The load: 70% of the prospects start with a demo-request form (promoted at once under the
shipped model: `promoted-to-sales` and `high-intent` fire), then page views, email opens and
clicks. The other 30% start with an `identify` (a new known name: the `welcome` program sends
its first email), then page views, opens, clicks and now and then a backend's "Demo
Requested" track call (`demo-requested`: a confirmation email, a tag and points, which
promote the prospect, so `promoted-to-sales` fires too). Those prospects carry a `timezone`
trait where it is daytime during the run: in quiet hours their emails would wait for the
morning by design, which measures the clock, not the pipeline. Every event of a lead must
end up as one activity row: the benchmark checks that none is missing (events of a known
name before it became a lead are not lead activity and are not counted).

Run: .venv/bin/python bench/end_to_end.py [--rate 2000] [--seconds 60] [--prospects 20000] [--checkpoint-ms 1000]
[--automations none|FILE] [--smoke]. Writes the histogram to bench/results/end_to_end_latency.svg (with --smoke: to a
temp dir, or --plot).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import histogram  # noqa: E402
from bench.embedded_stack import BENCH_SECRETS, embedded_kafka, leadflow_process  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from bench.worker import metric  # noqa: E402
from connectors.crm.migrations import migrate  # noqa: E402
from leadflow.config import DEFAULT_AUTOMATIONS, Config  # noqa: E402
from leadflow.embedded.postgres import EmbeddedPostgres  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from leadflow.topic_reader import TopicReader  # noqa: E402
from schemas.codec import Codec  # noqa: E402
from schemas.records import Action  # noqa: E402
from tests.processes import wait_for_http  # noqa: E402

WRITE_KEY = BENCH_SECRETS["write_key"]
FOLLOW_UPS = [("page", None, 0.5), ("track", "email.opened", 0.3), ("track", "email.clicked", 0.2)]
# a known name not yet with sales: the same activity, and now and then a backend's "Demo Requested"
NURTURE_FOLLOW_UPS = [("page", None, 0.5), ("track", "email.opened", 0.25), ("track", "email.clicked", 0.15),
                      ("track", "Demo Requested", 0.1)]
NURTURE_SHARE = 0.3  # prospects whose first event is an identify (a new known name), not a demo-request form
REQUEST_EVERY_S = 0.05
PLOT = Path(__file__).with_name("results") / "end_to_end_latency.svg"
ZONES = ("Pacific/Honolulu", "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York",
         "America/Sao_Paulo", "Europe/London", "Europe/Berlin", "Europe/Helsinki", "Asia/Dubai", "Asia/Kolkata",
         "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland")


def daytime_zones(start: float, seconds: int) -> list[str]:
    """Time zones in which the whole run falls between 09:00 and 20:00, well outside the shipped file's quiet
    hours (21:00-08:00): a welcome or demo email is emitted at once rather than deferred to the morning."""
    def day(zone: str, at: float) -> bool:
        return 9 <= datetime.fromtimestamp(at, ZoneInfo(zone)).hour < 20
    return [zone for zone in ZONES if day(zone, start) and day(zone, start + seconds + 120)]


class Load:
    """The events to post, and what the measurement needs to know about them: when each was sent, and which
    are a lead's (must reach the CRM as activity rows)."""

    def __init__(self, prospects: int, zones: list[str], demo_promotes: bool = True) -> None:
        self.rng = random.Random(11)
        self.prospects = prospects
        self.zones = zones
        self.demo_promotes = demo_promotes  # the shipped `demo-requested` adds the 10 points a promotion needs
        self.nurture: dict[int, bool] = {}  # prospect -> not (yet) a lead; absent: not started
        self.sent_at: dict[str, float] = {}  # event id -> send time (epoch s)
        self.for_crm: list[str] = []  # event ids of leads' events

    def item(self, n: int, at: float) -> dict:
        rng = self.rng
        prospect = rng.randrange(self.prospects)
        stamp = datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")
        base = {"email": f"bench{prospect}@example.com", "messageId": f"m{n}", "timestamp": stamp}
        event_id = f"api:m{n}"  # the events API's event id (connectors/collector/segment.py)
        self.sent_at[event_id] = at
        nurture = self.nurture.get(prospect)
        if nurture is None:  # the prospect's first event
            if rng.random() < NURTURE_SHARE:
                self.nurture[prospect] = True
                return {**base, "type": "identify", "traits": {"first_name": f"Bench{prospect}",
                                                               "timezone": self.zones[prospect % len(self.zones)]}}
            self.nurture[prospect] = False
            self.for_crm.append(event_id)
            return {**base, "type": "track", "event": "form.submitted", "properties": {"form_id": "demo-request"}}
        mix = NURTURE_FOLLOW_UPS if nurture else FOLLOW_UPS
        kind, event, _ = rng.choices(mix, [w for *_, w in mix])[0]
        if event == "Demo Requested" and self.demo_promotes:  # 40 points, the automation's 10: a lead from now on
            self.nurture[prospect] = False
        if not self.nurture[prospect]:
            self.for_crm.append(event_id)
        if kind == "page":
            return {**base, "type": "page", "properties": {"url": f"https://example.com/docs/{n % 50}"}}
        return {**base, "type": "track", "event": event}


async def send(url: str, rate: int, seconds: int, load: Load) -> tuple[int, int]:
    """Post ``rate`` events/s for ``seconds``; returns (sent, accepted)."""
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
                batch.append(load.item(n, now))
            tasks.append(asyncio.create_task(post(session, batch)))
            if n0 % rate < per_request:
                print(f"\r  sent {n0 + len(batch):,}/{total:,} ({time.monotonic() - begin:.0f}s)", end="",
                      file=sys.stderr, flush=True)
        await asyncio.gather(*tasks)
        print(f"\r  sent {total:,} in {time.monotonic() - begin:.1f}s", file=sys.stderr)
    return total, accepted


# The lead events' activity rows the benchmark waits for and measures: the events it sent for leads, listed in
# a table of the bench's own database (rows of a known name's earlier events arrive on its promotion: not counted).
FOR_CRM = "bench_for_crm"
ACTIVITIES = f"crm_lead_activities a JOIN {FOR_CRM} USING (event_id)"


def expect(dsn: str, event_ids: list[str]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {FOR_CRM} (event_id text PRIMARY KEY)")
        with conn.cursor().copy(f"COPY {FOR_CRM} (event_id) FROM STDIN") as copy:
            for event_id in event_ids:
                copy.write_row((event_id,))


def latencies(dsn: str) -> list[float]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(
            f"SELECT extract(epoch FROM inserted_at - occurred_at)::float8 FROM {ACTIVITIES}")]


def windows(dsn: str, seconds: int = 10) -> list[tuple[int, float, float]]:
    """(window start in s from the first event, p50, p99) per window: is the latency steady over the run?"""
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"""
            WITH l AS (SELECT extract(epoch FROM occurred_at) AS at, extract(epoch FROM inserted_at - occurred_at) AS s
                       FROM {ACTIVITIES})
            SELECT (floor((at - (SELECT min(at) FROM l)) / {seconds}) * {seconds})::int AS w,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY s)::float8,
                   percentile_disc(0.99) WITHIN GROUP (ORDER BY s)::float8
            FROM l GROUP BY 1 ORDER BY 1""").fetchall()


def rows(dsn: str) -> tuple[int, int]:
    """(activity rows of the events sent for leads, every activity row)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT (SELECT count(*) FROM {ACTIVITIES}), (SELECT count(*) FROM crm_lead_activities)"
                            ).fetchone()


async def read_actions(config: Config, settle_s: float) -> tuple[list[tuple[Action, int]], str]:
    """Every Action on the actions topic with its record timestamp (epoch ms), read once the topic has stopped
    growing for ``settle_s``; and the timestamp type ("CreateTime": the worker's producer stamps a batch when it
    builds it, just before sending it; "LogAppendTime": the broker's)."""
    codec, out, kinds = Codec(), [], set()
    async with TopicReader(config, config.topic("actions")) as reader:
        ends, stable_since = await reader.end_offsets(), time.monotonic()
        while time.monotonic() - stable_since < settle_s:
            await asyncio.sleep(0.25)
            if (now := await reader.end_offsets()) != ends:
                ends, stable_since = now, time.monotonic()
        async for records in reader.to_end():
            for record in records:
                kinds.add(record.timestamp_type)
                action = codec.decode(record.value)
                if isinstance(action, Action):
                    out.append((action, record.timestamp))
    return out, "/".join("LogAppendTime" if kind == 1 else "CreateTime" for kind in sorted(kinds)) or "-"


def action_latencies(actions: list[tuple[Action, int]], sent_at: dict[str, float],
                     seconds: int = 10) -> tuple[list[float], Counter, list[tuple[int, float, float, int]]]:
    """Seconds from sending the event to its Action's record timestamp, for every Action an event the
    benchmark sent caused (not the timers' own: a program wait, a deferred email); the count by type; and
    (window start in s from the first event sent, p50, p99, actions) per window of send time."""
    measured, by_type, by_window = [], Counter[str](), dict[int, list[float]]()
    first = min(sent_at.values(), default=0.0)
    for action, stamp in actions:
        at = sent_at.get(action.cause_event_id)
        if at is not None:
            measured.append(stamp / 1000 - at)
            by_type[action.type] += 1
            by_window.setdefault(int((at - first) // seconds) * seconds, []).append(measured[-1])
    over_time = [(start, histogram.percentile(sorted(w), 50), histogram.percentile(sorted(w), 99), len(w))
                 for start, w in sorted(by_window.items())]
    return sorted(measured), by_type, over_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--prospects", type=int, default=20000)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--checkpoint-ms", type=int, default=1000, help="LEADFLOW_WORKER_CHECKPOINT_MS")
    parser.add_argument("--automations", default=str(DEFAULT_AUTOMATIONS),
                        help="LEADFLOW_AUTOMATIONS (default: the shipped file); 'none' runs the worker without, to "
                             "compare")
    add_smoke_flag(parser)
    args = parser.parse_args()
    automations = None if args.automations == "none" else Path(args.automations)
    if args.smoke:
        args.rate, args.seconds, args.prospects = 200, 3, 100
        if args.plot == PLOT:
            args.plot = Path(tempfile.mkdtemp(prefix="leadflow-bench-")) / PLOT.name
    http_port, worker_port, sink_port, pg_port = free_ports(4)
    with ExitStack() as stack:
        config = stack.enter_context(embedded_kafka(
            http_port=http_port, worker_metrics_port=worker_port, sink_metrics_port=sink_port,
            worker_checkpoint_ms=args.checkpoint_ms, automations_path=automations))
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
        load = Load(args.prospects, daytime_zones(time.time(), args.seconds), automations is not None)
        sent, accepted = asyncio.run(send(f"http://127.0.0.1:{http_port}/v1/events", args.rate, args.seconds, load))
        expect(dsn, load.for_crm)
        deadline = time.monotonic() + 60
        while (arrived := rows(dsn)[0]) < len(load.for_crm) and time.monotonic() < deadline:
            print(f"\r  in the CRM: {arrived:,}/{len(load.for_crm):,}", end="", file=sys.stderr, flush=True)
            time.sleep(0.5)
        print(file=sys.stderr)
        actions, stamp_type = asyncio.run(read_actions(config, 1.0 if args.smoke else 3.0))
        measured = sorted(latencies(dsn))
        every_row = rows(dsn)[1]
        over_time = windows(dsn)
        worker, sink = f"http://127.0.0.1:{worker_port}/metrics", f"http://127.0.0.1:{sink_port}/metrics"
        checkpoints = metric(worker, "leadflow_worker_checkpoint_seconds_sum"), \
            metric(worker, "leadflow_worker_checkpoint_seconds_count"), \
            metric(worker, "leadflow_worker_checkpoint_pause_seconds_sum")
        batches = metric(worker, "leadflow_worker_batch_seconds_sum"), \
            metric(worker, "leadflow_worker_batch_seconds_count"), metric(worker, "leadflow_worker_batch_size_sum")
        writes = metric(sink, "leadflow_sink_write_seconds_sum"), metric(sink, "leadflow_sink_write_seconds_count"), \
            metric(sink, "leadflow_sink_records_total")
    p50, p95, p99 = (histogram.percentile(measured, q) for q in (50, 95, 99))
    print(f"end to end (collector -> crm_lead_activities row committed), {args.rate:,} events/s for "
          f"{args.seconds} s, {args.prospects:,} prospects, all processes on this machine:")
    print(f"  sent {sent:,}, accepted {accepted:,}, of them leads' events {len(load.for_crm):,}, in the CRM "
          f"{len(measured):,}, missing {len(load.for_crm) - len(measured):,} (and {every_row - len(measured):,} rows "
          f"of known names' earlier events, written on their promotion, not measured)")
    print(f"  p50 {p50 * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, "
          f"max {measured[-1] * 1000:,.0f} ms")
    print("  over time: " + ", ".join(f"{start}s p50 {p50_ * 1000:,.0f} / p99 {p99_ * 1000:,.0f} ms"
                                      for start, p50_, p99_ in over_time))
    if checkpoints[1]:
        print(f"  worker checkpoints: {checkpoints[1]:,.0f} (every {args.checkpoint_ms} ms), scoring paused "
              f"{checkpoints[2] / checkpoints[1] * 1000:,.0f} ms for each snapshot, storing took "
              f"{checkpoints[0] / checkpoints[1] * 1000:,.0f} ms on average")
    if batches[1]:
        print(f"  worker batches: {batches[1]:,.0f} of {batches[2] / batches[1]:,.0f} inputs on average, "
              f"{batches[0] / batches[1] * 1000:,.1f} ms each (scoring, automations, sending the outputs)")
    if writes[1]:
        print(f"  sink: {writes[1]:,.0f} batches of {writes[2] / writes[1]:,.0f} lead/SLA events on average, "
              f"{writes[0] / writes[1] * 1000:,.1f} ms per database write")
    edges = histogram.log_bins(measured[0], measured[-1] * 1.0001, 16)
    print(histogram.terminal(measured, edges))
    caused, by_type, actions_over_time = action_latencies(actions, load.sent_at)
    if caused:
        a50, a99 = (histogram.percentile(caused, q) for q in (50, 99))
        print(f"actions: {len(caused):,} actions, p50 {a50 * 1000:,.0f} ms, p99 {a99 * 1000:,.0f} ms, "
              f"max {caused[-1] * 1000:,.0f} ms (target p99 < 1000 ms)")
    else:
        print("actions: 0 actions (target p99 < 1000 ms)")
    print(f"  from the event's send time to the Action record's timestamp ({stamp_type}) on {config.topic('actions')}; "
          f"{len(actions):,} actions on the topic, {len(caused):,} caused by the events sent: "
          + ", ".join(f"{kind} {count:,}" for kind, count in by_type.most_common()))
    if caused:
        print(f"  {len(caused) / sent:.2f} actions per event sent; "
              f"p95 {histogram.percentile(caused, 95) * 1000:,.0f} ms")
        print("  over time (by send time): " + ", ".join(
            f"{start}s p50 {p50_ * 1000:,.0f} / p99 {p99_ * 1000:,.0f} ms ({count:,})"
            for start, p50_, p99_, count in actions_over_time))
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    histogram.svg(measured, args.plot, f"End-to-end latency, {args.rate:,} events/s for {args.seconds} s "
                  f"({len(measured):,} events)", {"p50": p50, "p95": p95, "p99": p99})
    print(f"  histogram: {args.plot}")


if __name__ == "__main__":
    main()
