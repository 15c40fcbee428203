"""ProspectState <-> bytes for the changelog-backed Faust table."""

from __future__ import annotations

import json

from schemas.records import TimelineEntry
from streams.core.prospect import LedgerEntry, ProspectState

_FORMAT = 1


def dump_state(state: ProspectState) -> bytes:
    return json.dumps({
        "f": _FORMAT,
        "key": state.key,
        "prospect_id": state.prospect_id,
        "email": state.email,
        "stage": state.stage,
        "fit": state.fit,
        "behaviour": state.behaviour,
        "version": state.version,
        "promoted_at": state.promoted_at,
        "last_activity_at": state.last_activity_at,
        "profile": dict(state.profile),
        "timeline": [[e.event_id, e.type, e.occurred_at, e.source, e.url, e.points] for e in state.timeline],
        "ledger": [[e.event_id, e.rule_id, e.points, e.total, e.occurred_at] for e in state.ledger],
        "seen": list(state.seen),
    }, separators=(",", ":")).encode()


def load_state(data: bytes) -> ProspectState:
    raw = json.loads(data)
    if raw.get("f") != _FORMAT:
        raise ValueError(f"unsupported prospect state format {raw.get('f')!r}")
    return ProspectState(
        key=raw["key"],
        prospect_id=raw["prospect_id"],
        email=raw["email"],
        stage=raw["stage"],
        fit=raw["fit"],
        behaviour=raw["behaviour"],
        version=raw["version"],
        promoted_at=raw["promoted_at"],
        last_activity_at=raw["last_activity_at"],
        profile=raw["profile"],
        timeline=tuple(TimelineEntry(*entry) for entry in raw["timeline"]),
        ledger=tuple(LedgerEntry(*entry) for entry in raw["ledger"]),
        seen=tuple(raw["seen"]),
    )
