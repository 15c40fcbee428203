"""ProspectState <-> bytes for the changelog-backed Faust table (JSON; format-versioned)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from schemas.records import CrmFeedback, Interaction
from streams.core.prospect import LedgerEntry, ProspectState
from streams.core.scoring import RuleTally

_FORMAT = 2
_KINDS = {"i": Interaction, "f": CrmFeedback}


def dump_state(state: ProspectState) -> bytes:
    return json.dumps({
        "f": _FORMAT,
        "key": state.key,
        "prospect_id": state.prospect_id,
        "email": state.email,
        "stage": state.stage,
        "profile": dict(state.profile),
        "fit": state.fit,
        "fit_rules": list(state.fit_rules),
        "tallies": {rule: [t.value, t.as_of, t.activations, list(t.recent)] for rule, t in state.tallies.items()},
        "clock": state.clock,
        "segments": list(state.segments),
        "version": state.version,
        "promoted_at": state.promoted_at,
        "last_activity_at": state.last_activity_at,
        "history": [_input(i) for i in state.history],
        "ledger": [[e.event_id, e.rule_id, e.points, e.decayed, e.total, e.occurred_at] for e in state.ledger],
        "seen": list(state.seen),
        "alias_of": state.alias_of,
    }, separators=(",", ":")).encode()


def load_state(data: bytes) -> ProspectState:
    raw = json.loads(data)
    if raw.get("f") != _FORMAT:
        raise ValueError(f"unsupported prospect state format {raw.get('f')!r}")
    return ProspectState(
        key=raw["key"], prospect_id=raw["prospect_id"], email=raw["email"], stage=raw["stage"],
        profile=raw["profile"], fit=raw["fit"], fit_rules=tuple(raw["fit_rules"]),
        tallies={rule: RuleTally(v, a, n, tuple(r)) for rule, (v, a, n, r) in raw["tallies"].items()},
        clock=raw["clock"], segments=tuple(raw["segments"]), version=raw["version"],
        promoted_at=raw["promoted_at"], last_activity_at=raw["last_activity_at"],
        history=tuple(_KINDS[i.pop("k")](**i) for i in raw["history"]),
        ledger=tuple(LedgerEntry(*e) for e in raw["ledger"]), seen=tuple(raw["seen"]), alias_of=raw["alias_of"],
    )


def _input(item: Interaction | CrmFeedback) -> dict[str, Any]:
    data = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    data["k"] = "i" if isinstance(item, Interaction) else "f"
    return data
