"""Pixel throughput through the real collector process into the real broker, with zero loss checked.

Starts an embedded broker and `leadflow collector`, drives GET /t/px.gif with wrk from
another process, then compares the number of hits the collector accepted with the
number of records found on the interactions topic. Needs wrk (apt-get install wrk).

Run: .venv/bin/python bench/pixel.py [--seconds 20] [--connections 64] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded_stack import embedded_kafka, leadflow_process  # noqa: E402
from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import Config  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from leadflow.topic_reader import TopicReader  # noqa: E402
from tests.processes import wait_for_http  # noqa: E402

LUA = """
request = function()
  return wrk.format("GET", "/t/px.gif?u=https%3A%2F%2Fexample.com%2Fpricing&t=Pricing")
end
"""


def accepted_hits(metrics_url: str) -> int:
    text = urllib.request.urlopen(metrics_url).read().decode()
    match = re.search(r'leadflow_collector_inputs_total\{outcome="accepted",source="pixel",type="page.viewed"\} (\S+)',
                      text)
    return int(float(match.group(1))) if match else 0


async def records_on_topic(config: Config) -> tuple[int, int]:
    """(records read, distinct event ids among them)."""
    from schemas.codec import Codec

    codec, ids, count = Codec(), set(), 0
    async with TopicReader(config, config.topic("interactions")) as reader:
        async for records in reader.to_end():
            count += len(records)
            ids.update(codec.decode(r.value).event_id for r in records)
    return count, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2, help="LEADFLOW_COLLECTOR_PROCESSES")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.connections, args.processes = 2, 8, 1
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    (port,) = free_ports(1)
    with embedded_kafka(http_port=port, processes=args.processes) as config, leadflow_process("collector", config):
        run(config, port, args)


def run(config: Config, port: int, args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{base}/readyz", 30):
        sys.exit("the collector did not become ready")
    if args.processes > 1:
        time.sleep(3)  # every process listening before wrk opens its connections, or SO_REUSEPORT can't spread them
    script = config.data_dir / "pixel.lua"
    script.write_text(LUA)
    print(f"wrk: 1 thread, {args.connections} connections, {args.seconds}s against {base}/t/px.gif; "
          f"{args.processes} collector process(es)", flush=True)
    out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s",
                          str(script), base], capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    time.sleep(2 if args.smoke else 8)  # pixels are acknowledged by the broker after the GIF went out
    accepted = accepted_hits(f"{base}/metrics")
    offsets, found = asyncio.run(records_on_topic(config))
    print(f"requests/s        {rate:,.0f}")
    print(f"latency p50/p99   {latency.get('50')} / {latency.get('99')}")
    print(f"non-2xx           {non_2xx.group(1) if non_2xx else 0}   socket errors: "
          f"{errors.group(1) if errors else 'none'}")
    print(f"accepted hits     {accepted:,}")
    print(f"records in Kafka  {found:,} distinct event ids read back ({offsets:,} records)")
    print(f"lost              {accepted - found:,}")


if __name__ == "__main__":
    main()
