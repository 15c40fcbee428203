"""How fast can anything consume the interactions topic, before any scoring? The worker's ceiling.

Pre-loads N synthetic interactions onto an embedded broker, then times one consumer that
only decodes them: a plain aiokafka consumer group (what the worker is built on), or a
bare Faust agent (``take_events`` batches or ``events()`` one by one), the measurement
that made the worker leave Faust. Each mode runs in its own process. The Faust modes run
only where Faust is installed: `.venv/bin/pip install "faust-streaming>=0.15,<0.16"`.

Run: .venv/bin/python bench/consumer_ceiling.py [--events 100000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.core import synthetic  # noqa: E402
from bench.embedded_stack import embedded_kafka  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from bench.worker import preload  # noqa: E402
from leadflow.config import Config  # noqa: E402
from leadflow.supervisor import EMBEDDED_KAFKA  # noqa: E402
from schemas.codec import Codec  # noqa: E402

MODES = ("aiokafka", "faust-take", "faust-events")


def run_faust(config: Config, events: int, mode: str) -> None:
    try:
        import faust
    except ImportError:
        print(f"{mode:13} skipped: faust-streaming is not installed", flush=True)
        return

    app = faust.App(f"ceiling-{mode}", broker=f"kafka://{config.kafka.bootstrap}", store="memory://",
                    datadir=str(config.data_dir / mode), key_serializer="raw", value_serializer="raw",
                    consumer_auto_offset_reset="earliest", web_enabled=False, broker_session_timeout=3,
                    broker_rebalance_timeout=3, broker_heartbeat_interval=0.5, stream_buffer_maxsize=32768,
                    broker_max_poll_records=5000)
    topic = app.topic(config.topic("interactions"), key_type=bytes, value_type=bytes)
    codec, seen = Codec(), {"count": 0, "started": 0.0}

    async def batches(stream):  # type: ignore[no-untyped-def]
        if mode == "faust-take":
            async for batch in stream.take_events(1000, within=0.02):
                yield batch
        else:
            async for event in stream.events():
                yield [event]

    @app.agent(topic, concurrency=1)
    async def consume(stream):  # type: ignore[no-untyped-def]
        async for batch in batches(stream):
            seen["started"] = seen["started"] or time.perf_counter()
            for event in batch:
                codec.decode(event.value)
            seen["count"] += len(batch)
            if seen["count"] >= events:
                report(mode, seen["count"], time.perf_counter() - seen["started"])
                os._exit(0)

    faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


async def run_aiokafka(config: Config, events: int) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(config.topic("interactions"), **config.kafka.client_kwargs(), group_id="ceiling",
                                auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=3000,
                                heartbeat_interval_ms=500, rebalance_timeout_ms=3000, max_poll_records=5000)
    await consumer.start()
    codec, count, started = Codec(), 0, 0.0
    try:
        while count < events:
            for records in (await consumer.getmany(timeout_ms=100, max_records=5000)).values():
                started = started or time.perf_counter()
                for record in records:
                    codec.decode(record.value)
                count += len(records)
    finally:
        await consumer.stop()
    report("aiokafka", count, time.perf_counter() - started)


def report(mode: str, count: int, elapsed: float) -> None:
    print(f"{mode:13} {count:,} records decoded in {elapsed:.2f}s = {count / elapsed:,.0f}/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one consumer, in a child process
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.events = 2_000
    if args.mode:
        config = Config().with_changes(bootstrap=args.bootstrap, data_dir=Path(args.data_dir), **EMBEDDED_KAFKA)
        if args.mode == "aiokafka":
            asyncio.run(run_aiokafka(config, args.events))
        else:
            run_faust(config, args.events, args.mode)
        return
    with embedded_kafka() as config:
        asyncio.run(preload(config, synthetic(args.events, args.events // 10), args.events))
        for mode in MODES:
            subprocess.run([sys.executable, __file__, "--mode", mode, "--events", str(args.events), "--bootstrap",
                            config.kafka.bootstrap or "", "--data-dir", str(config.data_dir)], timeout=600,
                           env={**os.environ, "PYTHONWARNINGS": "ignore"})

if __name__ == "__main__":
    main()
