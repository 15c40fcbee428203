"""`leadflow dlq list` and `leadflow dlq replay`: the dead letters on `leadflow.sink-dlq`, read and re-driven.

The shell around ``connectors.crm.dead_letters`` (which reads the topic, tells replayed letters from pending
ones and puts a letter back on its source topic): these print what it found for a person at a terminal, one
line per letter and a count on stderr, or JSON lines for a script.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone

from connectors.crm.dead_letters import entries, replay
from leadflow.command_settings import require
from leadflow.config import Config
from leadflow.terminal import printable
from schemas.codec import Codec


def cmd_dlq_list(config: Config, as_json: bool) -> int:
    require(config, "dlq list", kafka=True)
    found = asyncio.run(entries(config, Codec.for_config(config)))
    for entry in found:
        letter = entry.letter
        when = datetime.fromtimestamp(letter.occurred_at / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        source = f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"
        if as_json:
            print(json.dumps({"event_id": letter.event_id, "at": when, "source": source, "what": entry.summary,
                              "target": letter.target, "attempts": letter.attempts, "error": letter.error,
                              "replayed": entry.replayed}))
        else:
            print(printable(f"{letter.event_id}  {when}  {'replayed' if entry.replayed else 'pending '}  {source}  "
                            f"{entry.summary}"))  # escaped: ids, summaries and errors quote what senders wrote
            print(printable(f"    {letter.target}, {letter.attempts} attempt(s): {letter.error}"))
    if not as_json:
        pending = sum(not e.replayed for e in found)
        print(f"{len(found)} dead letter(s), {pending} not replayed", file=sys.stderr)
    return 0


def cmd_dlq_replay(config: Config, ids: list[str]) -> int:
    require(config, "dlq replay", kafka=True)
    done = asyncio.run(replay(config, Codec.for_config(config), set(ids) or None))
    missing = set(ids) - {e.letter.event_id for e in done}
    for entry in done:
        print(f"replayed {entry.letter.event_id} -> {entry.letter.source_topic} ({entry.summary})")
    print(f"{len(done)} dead letter(s) replayed", file=sys.stderr)
    if missing:
        print(f"leadflow: no dead letter with id {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 0
