"""ProspectState <-> bytes for the worker's changelog (JSON via orjson; format-versioned).

The retained history dominates a state's size, so history entries are positional arrays
(``streams.history_codec``); ``streams.state_chunks`` cuts the long lists into chunks.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter

import orjson

from schemas.records import Action
from streams import history_codec
from streams.core.automation_state import (AutomationState, Deferred, Enrollment, JournalEntry, OutcomeWatch,
                                           SentEmail)
from streams.core.prospect import LEDGER_LIMIT, SEEN_WINDOW, LedgerEntry, ProspectState
from streams.core.scoring import DecayingSum, RuleTally
from streams.core.seen import RecentIds
from streams.core.sla import SlaClock

FORMAT = 7  # 6: a head and chunks of the long lists (state_chunks); 7: history fields repeated as 0 (history_codec)
READS = (4, 5, 6, 7)  # format 4 (before the automation engine) reads as a state no automation touched yet


def _flat(cls: type) -> attrgetter:
    """A flat dataclass's fields as a tuple: ``dataclasses.astuple`` also deep-copies, at ten times the cost."""
    return attrgetter(*(f.name for f in dataclasses.fields(cls)))


_ACTION_FIELDS = _flat(Action)
_SLA_FIELDS, _ENROLLMENT_FIELDS, _SENT_FIELDS, _WATCH_FIELDS = (_flat(cls) for cls in (SlaClock, Enrollment, SentEmail,
                                                                                      OutcomeWatch))


LISTS = ("history", "ledger", "seen")  # the long, mostly appended parts (streams/state_chunks.py writes them apart)


def dump_state(state: ProspectState) -> bytes:
    """The whole state in one document (the changelog keeps heads and chunks instead: ``state_chunks``)."""
    return orjson.dumps({**head_fields(state), **{name: encode_list(name, list_of(state, name)) for name in LISTS}})


def head_fields(state: ProspectState) -> dict:
    """Everything but the long lists."""
    return {
        "f": FORMAT,
        "key": state.key,
        "prospect_id": state.prospect_id,
        "email": state.email,
        "stage": state.stage,
        "profile": state.profile,
        "fit": state.fit,
        "fit_rules": state.fit_rules,
        "tallies": {rule: (t.value, t.as_of, t.activations, t.recent) for rule, t in state.tallies.items()},
        "behaviour": [(half_life, s.value, s.as_of) for half_life, s in state.behaviour_by_half_life.items()],
        "clock": state.clock,
        "behaviour_now": state.behaviour,
        "segments": state.segments,
        "version": state.version,
        "promoted_at": state.promoted_at,
        "last_activity_at": state.last_activity_at,
        "alias_of": state.alias_of,
        "model_version": state.model_version,
        "sla": None if state.sla is None else _SLA_FIELDS(state.sla),
        "owner": state.owner,
        "queue": state.queue,
        "automation": None if state.automation is None else _dump_automation(state.automation),
    }


def list_of(state: ProspectState, name: str) -> list | RecentIds:
    return state.history if name == "history" else state.ledger if name == "ledger" else state.seen


def encode_list(name: str, entries, after: object = None) -> list:
    """``entries`` as stored; ``after``: the entry before them in the same stored array (for the history, whose
    entries repeat fields of the one before: ``streams.history_codec``)."""
    if name == "history":
        return history_codec.encode(entries, after)  # type: ignore[arg-type]
    if name == "ledger":
        return [tuple(e) for e in entries]  # orjson leaves tuple subclasses alone
    return list(entries)


def decode_list(name: str, raw: list) -> list:
    if name == "history":
        return history_codec.decode(raw)
    if name == "ledger":
        return [LedgerEntry(*e) for e in raw]
    return raw


def load_state(data: bytes) -> ProspectState:
    return state_from(orjson.loads(data))


def state_from(raw: dict, lists: dict[str, list] | None = None) -> ProspectState:
    """A state from its head fields and its lists (decoded; from ``raw`` itself when not given)."""
    if raw.get("f") not in READS:
        raise ValueError(f"unsupported prospect state format {raw.get('f')!r}")
    if lists is None:
        lists = {name: decode_list(name, raw[name]) for name in LISTS}
    return ProspectState(
        key=raw["key"], prospect_id=raw["prospect_id"], email=raw["email"], stage=raw["stage"],
        profile=raw["profile"], fit=raw["fit"], fit_rules=tuple(raw["fit_rules"]),
        tallies={rule: RuleTally(v, a, n, r) for rule, (v, a, n, r) in raw["tallies"].items()},
        behaviour_by_half_life={h: DecayingSum(v, a) for h, v, a in raw["behaviour"]},
        clock=raw["clock"], behaviour=raw["behaviour_now"], segments=tuple(raw["segments"]), version=raw["version"],
        promoted_at=raw["promoted_at"], last_activity_at=raw["last_activity_at"],
        history=lists["history"], ledger=_bounded(lists["ledger"], LEDGER_LIMIT),
        seen=RecentIds.restored(SEEN_WINDOW, lists["seen"]) if len(lists["seen"]) <= SEEN_WINDOW else
        RecentIds(SEEN_WINDOW, lists["seen"]), alias_of=raw["alias_of"], model_version=raw.get("model_version"),
        sla=None if raw.get("sla") is None else SlaClock(*raw["sla"]), owner=raw.get("owner"), queue=raw.get("queue"),
        automation=None if raw.get("automation") is None else _load_automation(raw["automation"]),
    )


def _bounded(entries: list, limit: int) -> list:
    return entries if len(entries) <= limit else entries[-limit:]


def _dump_automation(auto: AutomationState) -> dict:
    return {
        "fired": auto.fired, "counts": auto.counts,
        "enrollments": [_ENROLLMENT_FIELDS(run) for run in auto.enrollments.values()],
        "sent": [_SENT_FIELDS(email) for email in auto.sent],
        "deferred": [(d.due_at, _ACTION_FIELDS(d.action), d.enrollment) for d in auto.deferred],
        "watches": [_WATCH_FIELDS(w) for w in auto.watches],
        "tags": auto.tags, "suppressed": auto.suppressed, "known_at": auto.known_at,
        "inactive_fired": auto.inactive_fired, "journal": [tuple(e) for e in auto.journal], "wake_at": auto.wake_at,
        "crossed": auto.crossed,
    }


def _load_automation(raw: dict) -> AutomationState:
    auto = AutomationState(fired=raw["fired"], counts=raw["counts"], tags=raw["tags"], suppressed=raw["suppressed"],
                           known_at=raw["known_at"], inactive_fired=raw["inactive_fired"],
                           deferred=[Deferred(due, Action(*fields), run) for due, fields, run in raw["deferred"]],
                           watches=[OutcomeWatch(*w) for w in raw["watches"]], wake_at=raw["wake_at"],
                           crossed=raw.get("crossed", {}))
    auto.enrollments = {run[0]: Enrollment(*run) for run in raw["enrollments"]}
    auto.sent.extend(SentEmail(*email) for email in raw["sent"])
    auto.journal.extend(JournalEntry(*entry) for entry in raw["journal"])
    return auto
