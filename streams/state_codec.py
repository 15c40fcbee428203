"""ProspectState <-> bytes for the worker's changelog (JSON; format-versioned).

History entries leave out fields at their defaults: most interactions carry a handful of
the schema's fields, and the history dominates the size of a state.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from typing import Any

from schemas.records import CrmFeedback, Interaction
from streams.core.prospect import LEDGER_LIMIT, SEEN_WINDOW, LedgerEntry, ProspectState
from streams.core.scoring import DecayingSum, RuleTally
from streams.core.seen import RecentIds

_FORMAT = 3
_KINDS = {"i": Interaction, "f": CrmFeedback}
_DEFAULTS = {
    kind: {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    for kind, cls in _KINDS.items()
}
_FIELDS = {kind: tuple(f.name for f in dataclasses.fields(cls)) for kind, cls in _KINDS.items()}
_EMPTY_FACTORIES = {
    kind: {f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING}
    for kind, cls in _KINDS.items()
}


def dump_state(state: ProspectState) -> bytes:
    return json.dumps({
        "f": _FORMAT,
        "key": state.key,
        "prospect_id": state.prospect_id,
        "email": state.email,
        "stage": state.stage,
        "profile": state.profile,
        "fit": state.fit,
        "fit_rules": state.fit_rules,
        "tallies": {rule: [t.value, t.as_of, t.activations, t.recent] for rule, t in state.tallies.items()},
        "behaviour": [[half_life, s.value, s.as_of] for half_life, s in state.behaviour_by_half_life.items()],
        "clock": state.clock,
        "behaviour_now": state.behaviour,
        "segments": state.segments,
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
        tallies={rule: RuleTally(v, a, n, r) for rule, (v, a, n, r) in raw["tallies"].items()},
        behaviour_by_half_life={h: DecayingSum(v, a) for h, v, a in raw["behaviour"]},
        clock=raw["clock"], behaviour=raw["behaviour_now"], segments=tuple(raw["segments"]), version=raw["version"],
        promoted_at=raw["promoted_at"], last_activity_at=raw["last_activity_at"],
        history=[_KINDS[i.pop("k")](**i) for i in raw["history"]],
        ledger=deque((LedgerEntry(*e) for e in raw["ledger"]), maxlen=LEDGER_LIMIT),
        seen=RecentIds(SEEN_WINDOW, raw["seen"]), alias_of=raw["alias_of"],
    )


def _input(item: Interaction | CrmFeedback) -> dict[str, Any]:
    kind = "i" if isinstance(item, Interaction) else "f"
    defaults, factories = _DEFAULTS[kind], _EMPTY_FACTORIES[kind]
    data: dict[str, Any] = {"k": kind}
    for name in _FIELDS[kind]:
        value = getattr(item, name)
        if name in factories:
            if value:
                data[name] = value
        elif name not in defaults or value != defaults[name]:
            data[name] = value
    return data
