"""A prospect's state and the pure transition ``apply(state, interaction, model)``.

Same events in the same order under the same model give the same state and the
same effects; redelivered events (same ``event_id``) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from bisect import insort
from typing import Mapping, TypeVar

from schemas.records import Interaction, TimelineEntry
from streams.core import lifecycle
from streams.core.model import ScoringModel

SEEN_WINDOW = 2000
TIMELINE_LIMIT = 500
LEDGER_LIMIT = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One score change and why: the provenance marketing ops ask for."""

    event_id: str
    rule_id: str
    points: float
    total: float
    occurred_at: int


@dataclass(frozen=True, slots=True)
class ProspectState:
    key: str
    prospect_id: str | None = None
    email: str | None = None
    stage: str = lifecycle.NAME
    fit: float = 0.0
    behaviour: float = 0.0
    version: int = 0
    promoted_at: int | None = None
    last_activity_at: int | None = None
    profile: Mapping[str, str] = field(default_factory=dict)
    timeline: tuple[TimelineEntry, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    seen: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return self.fit + self.behaviour


@dataclass(frozen=True, slots=True)
class LeadChange:
    """An effect: the lead's CRM record must change; ``kind`` is the LeadEvent type."""

    kind: str
    cause: Interaction


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ProspectState
    effects: tuple[LeadChange, ...] = ()


def apply(state: ProspectState, event: Interaction, model: ScoringModel) -> Outcome:
    if event.event_id in state.seen:
        return Outcome(state)
    ledger_entries, points = _score(state, event, model)
    behaviour = state.behaviour + points
    profile = {**state.profile, **event.traits} if event.traits else state.profile
    new = replace(
        state,
        prospect_id=state.prospect_id or event.prospect_id,
        email=state.email or event.email,
        behaviour=behaviour,
        version=next_version(state.version, event.received_at),
        last_activity_at=max(state.last_activity_at or event.occurred_at, event.occurred_at),
        profile=profile,
        timeline=_with_entry(state.timeline, _timeline_entry(event, points)),
        ledger=(state.ledger + ledger_entries)[-LEDGER_LIMIT:],
        seen=_bounded(state.seen, event.event_id, SEEN_WINDOW),
    )
    if lifecycle.promotes(new.stage, new.total, model.promote_threshold, new.prospect_id is not None):
        new = replace(new, stage=lifecycle.LEAD, promoted_at=event.occurred_at)
        return Outcome(new, (LeadChange("lead.promoted", event),))
    if new.stage != lifecycle.NAME:
        return Outcome(new, (LeadChange("lead.updated", event),))
    return Outcome(new)


def next_version(current: int, received_at_ms: int) -> int:
    """Monotonic per prospect, and anchored to receive time so it keeps rising even if the state is lost
    (the embedded broker keeps nothing across restarts) and the CRM's version guard must still accept it."""
    return max(current + 1, received_at_ms * 1000)


def _score(state: ProspectState, event: Interaction, model: ScoringModel) -> tuple[tuple[LedgerEntry, ...], float]:
    if event.machine:
        return (), 0.0
    entries: list[LedgerEntry] = []
    total = state.total
    for rule in model.rules:
        if rule.matches(event.type, event.url, event.form_id, event.campaign):
            total += rule.points
            entries.append(LedgerEntry(event.event_id, rule.id, rule.points, total, event.occurred_at))
    return tuple(entries), sum(entry.points for entry in entries)


def _timeline_entry(event: Interaction, points: float) -> TimelineEntry:
    return TimelineEntry(event_id=event.event_id, type=event.type, occurred_at=event.occurred_at,
                         source=event.source, url=event.url, points=points)


def _bounded(items: tuple[T, ...], item: T, limit: int) -> tuple[T, ...]:
    return (items + (item,))[-limit:]


def _with_entry(timeline: tuple[TimelineEntry, ...], entry: TimelineEntry) -> tuple[TimelineEntry, ...]:
    """Keep the timeline chronological even when events arrive out of order."""
    if not timeline or timeline[-1].occurred_at <= entry.occurred_at:
        return _bounded(timeline, entry, TIMELINE_LIMIT)
    entries = list(timeline)
    insort(entries, entry, key=lambda e: (e.occurred_at, e.event_id))
    return tuple(entries[-TIMELINE_LIMIT:])
