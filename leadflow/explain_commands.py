"""`leadflow explain` and `leadflow rescore`: prospects as the worker keeps them, explained and rescored.

The shell around ``streams.core.explain``: both read the prospect states as the worker keeps them
(``streams.state_reader``: this machine's worker stores plus the changelog's tail, else the changelog, so they
work with or without a running worker, and a large changelog is not read whole); ``explain`` prints one prospect's
document (score, stage, timeline, the ledger of every point), ``rescore`` replays every retained state under
a candidate model and prints who would change stage.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from leadflow.command_settings import require
from leadflow.config import Config
from leadflow.terminal import printable_lines
from streams.core.explain import as_json as explain_json, as_table, rescore
from streams.core.identity import InvalidEmail, key_for
from streams.core.model import load_model
from streams.state_reader import changelog_topic, read_states


def cmd_explain(config: Config, target: str, as_json: bool) -> int:
    require(config, "explain", kafka=True)
    try:
        key = key_for(target)
    except InvalidEmail as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return 2
    model = load_model(config.model_path)
    state = asyncio.run(read_states(config, key)).get(key)
    if state is None:
        print(f"leadflow: no state for {key} on {changelog_topic(config)}", file=sys.stderr)
        return 1
    print(json.dumps(explain_json(state, model), indent=2) if as_json else printable_lines(as_table(state, model)))
    return 0


def cmd_rescore(config: Config, new_model_path: str) -> int:
    require(config, "rescore", kafka=True)
    old, new = load_model(config.model_path), load_model(Path(new_model_path))
    states = list(asyncio.run(read_states(config)).values())
    print(rescore(states, old, new, time.time_ns() // 1_000_000).render(old, new))
    return 0
