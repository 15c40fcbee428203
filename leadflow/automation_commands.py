"""`leadflow automations [--dry-run FILE]`: what the automations and programs did, or what a candidate would do.

The shell around ``streams.core.automation_report``: it reads every prospect state as the worker keeps it
(``streams.state_reader``: this machine's worker stores plus the changelog's tail, else the changelog) and
prints the counts the states carry (enrolled, active, completed, exited by
reason, actions by type); with ``--dry-run`` it replays their retained histories under the candidate file
instead, sending nothing. A candidate that does not load stops here with its file, line and automation.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from leadflow.command_settings import require
from leadflow.config import DEFAULT_AUTOMATIONS, Config
from streams.core.automation_index import load_engine
from streams.core.automation_report import counts, dry_run
from streams.core.model import load_model
from streams.state_reader import read_states


def cmd_automations(config: Config, candidate: str | None) -> int:
    require(config, "automations", kafka=True)
    model = load_model(config.model_path)
    path = Path(candidate) if candidate else config.automations_path or DEFAULT_AUTOMATIONS
    engine = load_engine(path, model)  # a bad candidate stops here, with the file, the line and the automation
    assert engine is not None
    states = list(asyncio.run(read_states(config)).values())
    if candidate:
        report = dry_run(states, engine, time.time_ns() // 1_000_000)
        print(report.render(engine, f"dry run: {path} over the retained histories (nothing is sent)"))
    else:
        print(counts(states).render(engine, "automations and programs, from the prospect states"))
    return 0
