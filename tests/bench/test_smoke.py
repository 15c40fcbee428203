"""Every benchmark still starts, finishes and prints its figures: each runs in its ``--smoke`` mode (tiny sizes,
seconds) as its own process, the way a developer runs it. Benchmarks rot when nothing runs them."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BENCH = Path(__file__).resolve().parents[2] / "bench"
LIBRARIES = {"embedded_stack", "histogram", "hostile_inputs", "smoke"}
# The figure lines each script must print (regexes, each matched against some line of its output).
FIGURES = {
    "backtest": [r"^backtest: 4,000 prospects, [1-9][\d,]* inputs in [\d.]+ s \([\d,]+ prospects/s, \d+ processes\)$",
                 r"^worker CPU after reading the file: [\d.]+ s converting and merging the shards, [\d.]+ s "
                 r"replaying them .* by the `synthetic` generator",
                 r"^at threshold 50: [1-9][\d,]* leads, [1-9][\d,]* judged, [\d,]+ outcome unknown, reject rate \d"],
    "core": [r"^core apply: 2,000 events over \d+ prospects at .* events/s \(CPU time\)$", r"^state per prospect .*KiB",
             r"^core with automations: 2,000 events over \d+ prospects at .* events/s \(CPU time\)$",
             r"^automations cost: 1 alternating pairs, with/without [\d.]+-[\d.]+"],
    "consumer_ceiling": [r"^aiokafka +2,000 records decoded in .*/s$", r"^faust-take +(skipped|\d)"],
    "worker": [r"^worker: [\d,]+ events over \d+ prospects in .* events/s", r"^lead events emitted: \d",
               r"^memory: worker RSS grew .* per prospect$"],
    "scale": [r"^scale: 2,000 prospects, [\d,]+ events at [\d,]+ events/s, peak RSS [\d,]+ MiB, disk [\d,]+ B per "
              r"prospect, changelog [\d,]+ B per input \([\d,]+ B per prospect after compaction\), restart to ready "
              r"[\d.]+ s \(cache 500 prospects, block cache [\d,]+ MiB\)$"],
    "pixel": [r"^requests/s +[\d,]+$", r"^latency p50/p99 +\S+ / \S+$", r"^accepted hits +[1-9][\d,]*$",
              r"^records in Kafka +[1-9]", r"^lost +-?[\d,]+$"],
    "end_to_end": [r"^  sent 600, accepted 600, of them leads' events [1-9][\d,]*, in the CRM [\d,]+, missing 0 ",
                   r"^  p50 [\d,]+ ms, p95 [\d,]+ ms, p99 [\d,]+ ms",
                   r"^actions: [1-9][\d,]* actions, p50 [\d,]+ ms, p99 [\d,]+ ms, max [\d,]+ ms "
                   r"\(target p99 < 1000 ms\)$",
                   r"^  from the event's send time .* caused by the events sent: (?=.*notify [1-9])(?=.*send_email [1-9])",
                   r"^  histogram: "],
    "hostile": [r"^hostile inputs tried +[1-9][\d,]* ", r"^2xx +[\d,]+$", r"^4xx +[1-9][\d,]*$", r"^5xx +0$",
                r"^slowest response +[\d,.]+ ms: "],
    "http_stack": [r"^aiohttp \(asyncio loop\) +[\d,]+ req/s", r"^aiohttp \+ uvloop +[\d,]+ req/s",
                   r"^starlette \+ uvicorn .* (req/s|skipped)"],
}


def test_every_benchmark_has_a_smoke_run():
    scripts = {path.stem for path in BENCH.glob("*.py")} - LIBRARIES - {"__init__"}
    assert scripts == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_smoke_run_prints_its_figures(name, tmp_path):
    results = BENCH / "results"
    before = sorted(results.rglob("*")) if results.exists() else []
    extra = ["--plot", str(tmp_path / "latency.svg")] if name == "end_to_end" else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--smoke", *extra], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    lines = result.stdout.splitlines()
    missing = [figure for figure in FIGURES[name] if not any(re.search(figure, line) for line in lines)]
    assert missing == [], result.stdout
    assert elapsed < 60, f"a smoke run should take seconds, {name} took {elapsed:.0f}s"
    assert (sorted(results.rglob("*")) if results.exists() else []) == before, "smoke runs write no results"
    if extra:
        assert (tmp_path / "latency.svg").read_text().startswith("<svg")
