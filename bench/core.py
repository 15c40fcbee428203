"""Throughput of the pure scoring core: synthetic interactions, Zipf-distributed prospects, a realistic mix.

Run: .venv/bin/python bench/core.py [--events 200000] [--prospects 20000] [--automations shipped|FILE] [--smoke]
Prints events/s of the core's transition and the state size per prospect (serialized, as the worker stores it).
With --automations the automation engine runs too (`shipped`: leadflow/models/automations.yaml): compare the
two in alternating runs, the engine's target is within 15% of the rate without it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.config import DEFAULT_AUTOMATIONS, DEFAULT_MODEL  # noqa: E402
from schemas.records import Interaction  # noqa: E402
from streams.core.model import load_model  # noqa: E402
from streams.core.automation_index import load_engine  # noqa: E402
from streams.core.automations import step  # noqa: E402
from streams.core.prospect import ProspectState  # noqa: E402
from streams.gc_policy import settle_long_lived_objects  # noqa: E402
from streams.state_codec import dump_state  # noqa: E402

MIX = [("page.viewed", 0.55), ("email.delivered", 0.12), ("email.opened", 0.15), ("email.clicked", 0.08),
       ("form.submitted", 0.03), ("asset.downloaded", 0.03), ("email.bounced", 0.02), ("webinar.attended", 0.02)]
URLS = ["https://example.com/", "https://example.com/pricing", "https://example.com/blog/a", "https://example.com/docs"]


def synthetic(events: int, prospects: int, seed: int = 7) -> list[Interaction]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(prospects)]  # Zipf(1)
    keys = rng.choices(range(prospects), weights, k=events)
    types = rng.choices([t for t, _ in MIX], [w for _, w in MIX], k=events)
    start = 1_767_000_000_000
    out = []
    for n, (key, type_) in enumerate(zip(keys, types)):
        pid = f"p_{key:08x}"
        at = start + n * 50
        out.append(Interaction(event_id=f"e{n}", prospect_key=pid, prospect_id=pid, email=f"{pid}@example.com",
                               type=type_, occurred_at=at, received_at=at, source="bench",
                               url=rng.choice(URLS) if type_ == "page.viewed" else None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--prospects", type=int, default=20_000)
    parser.add_argument("--automations", metavar="shipped|FILE", help="run the automation engine with this file")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.events, args.prospects = 2_000, 200
        args.automations = args.automations or "shipped"
    model = load_model(DEFAULT_MODEL)
    path = DEFAULT_AUTOMATIONS if args.automations == "shipped" else args.automations and Path(args.automations)
    engine = load_engine(path or None, model)
    events = synthetic(args.events, args.prospects)
    settle_long_lived_objects()  # as the worker does after recovery; the input list is not the work measured
    states: dict[str, ProspectState] = {}
    started = time.perf_counter()
    for n, event in enumerate(events, start=1):
        state = states.get(event.prospect_key)
        if state is None:
            state = states[event.prospect_key] = ProspectState(event.prospect_key)
        step(state, event, model, engine)
        if n % 50_000 == 0:
            print(f"  {n:,} events, {n / (time.perf_counter() - started):,.0f}/s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    sizes = [len(dump_state(s)) for s in states.values()]
    print(f"core {'with automations' if engine else 'apply'}: {args.events:,} events over {len(states):,} prospects in {elapsed:.2f}s = "
          f"{args.events / elapsed:,.0f} events/s")
    print(f"state per prospect (serialized): mean {sum(sizes) / len(sizes) / 1024:.1f} KiB, "
          f"max {max(sizes) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
