"""Throughput of the pure scoring core: synthetic interactions, Zipf-distributed prospects, a realistic mix.

Run: .venv/bin/python bench/core.py [--events 200000] [--prospects 20000] [--automations none|shipped|FILE|both]
     [--smoke]
Prints events/s of the core's transition and the state size per prospect (serialized, as the worker stores it).
`--automations both` alternates runs without and with the shipped automation file on the same events and prints
their ratio: the engine's target is within 15% of the rate without it.
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
    parser.add_argument("--automations", metavar="shipped|FILE|none", default="none",
                        help="none: scoring alone (default); shipped or a file: the automation engine too; "
                             "both: alternate runs of each on the same events, and their ratio")
    parser.add_argument("--pairs", type=int, default=3, help="alternating runs of each with --automations both")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.events, args.prospects, args.automations, args.pairs = 2_000, 200, "both", 1
    model = load_model(DEFAULT_MODEL)
    chosen = "shipped" if args.automations == "both" else args.automations
    path = None if chosen == "none" else DEFAULT_AUTOMATIONS if chosen == "shipped" else Path(chosen)
    engine = load_engine(path, model)
    events = synthetic(args.events, args.prospects)
    settle_long_lived_objects()  # as the worker does after recovery; the input list is not the work measured
    if args.automations != "both":
        rate, states = run(events, model, engine)
        report("core with automations" if engine else "core apply", args.events, states, rate)
        return
    rates: dict[str, list[float]] = {"apply": [], "automations": []}
    for _ in range(args.pairs):  # alternating, so drift in the machine's speed hits both alike
        rate, plain = run(events, model, None)
        rates["apply"].append(rate)
        rate, automated = run(events, model, engine)
        rates["automations"].append(rate)
    report("core apply", args.events, plain, max(rates["apply"]))
    report("core with automations", args.events, automated, max(rates["automations"]))
    ratios = [b / a for a, b in zip(rates["apply"], rates["automations"])]
    print(f"automations cost: {args.pairs} alternating pairs, with/without {min(ratios):.2f}-{max(ratios):.2f} "
          f"(target: at least 0.85)")


def run(events: list[Interaction], model, engine) -> tuple[float, dict[str, ProspectState]]:
    """Events per second of CPU time (this process's; it is single-threaded), so another process on the
    machine slows it less than it slows the wall clock."""
    states: dict[str, ProspectState] = {}
    started = time.process_time()
    for n, event in enumerate(events, start=1):
        state = states.get(event.prospect_key)
        if state is None:
            state = states[event.prospect_key] = ProspectState(event.prospect_key)
        step(state, event, model, engine)
        if n % 50_000 == 0:
            print(f"  {n:,} events, {n / (time.process_time() - started):,.0f}/s", file=sys.stderr, flush=True)
    return len(events) / (time.process_time() - started), states


def report(label: str, events: int, states: dict[str, ProspectState], rate: float) -> None:
    sizes = [len(dump_state(s)) for s in states.values()]
    print(f"{label}: {events:,} events over {len(states):,} prospects at {rate:,.0f} events/s (CPU time)")
    print(f"state per prospect (serialized, {label}): mean {sum(sizes) / len(sizes) / 1024:.1f} KiB, "
          f"max {max(sizes) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
