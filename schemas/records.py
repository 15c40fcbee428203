"""Typed mirrors of the Avro records; a test keeps them field-for-field equal to ``*.avsc``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping


def slot_filler(cls: type, values: str = "by_name", skip: int = 0) -> Callable[[Any], Any]:
    """A function building a slotted dataclass ``cls`` without its ``__init__``: each slot set directly, from a
    dict by field name (``values="by_name"``) or from a sequence in field order after ``skip`` leading items
    (``"in_order"``).

    Why: the frozen dataclass ``__init__`` costs three times as much, and records are built per input (the
    decoder), per history entry read back (the state codec) and per input of a replay. The function is
    compiled once per class and shape, one line per slot: a loop over the slots cost half as much again.
    """
    key = (cls, values, skip)
    built = _FILLERS.get(key)
    if built is None:
        names = [f.name for f in fields(cls)]
        scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
        lines = ["def fill(v):", "    r = new(cls)"]
        for n, name in enumerate(names):
            scope[f"set{n}"] = getattr(cls, name).__set__
            lines.append(f"    set{n}(r, v[{name!r}])" if values == "by_name" else f"    set{n}(r, v[{n + skip}])")
        exec("\n".join([*lines, "    return r"]), scope)  # noqa: S102 (the source is built from field names)
        built = _FILLERS[key] = scope["fill"]
    return built


_FILLERS: dict[tuple[type, str, int], Callable[[Any], Any]] = {}


class _FlatRecord:
    """Records without nested records are built straight from their Avro dicts (``slot_filler``): the decoder has
    already filled every field (defaults included) from the schema."""

    __slots__ = ()

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Any:
        fill = _FROM_AVRO.get(cls)
        if fill is None:
            fill = _FROM_AVRO[cls] = slot_filler(cls)
        return fill(data)


_FROM_AVRO: dict[type, Callable[[dict[str, Any]], Any]] = {}  # per class: spares slot_filler's keyed lookup per input


@dataclass(frozen=True, slots=True)
class Interaction(_FlatRecord):
    SCHEMA: ClassVar[str] = "Interaction"
    event_id: str
    prospect_key: str
    type: str
    occurred_at: int
    received_at: int
    source: str
    prospect_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    url: str | None = None
    referrer: str | None = None
    title: str | None = None
    campaign: str | None = None
    message_id: str | None = None
    form_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    machine: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)
    traits: Mapping[str, str] = field(default_factory=dict)
    event: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedInput(_FlatRecord):
    SCHEMA: ClassVar[str] = "RejectedInput"
    event_id: str
    occurred_at: int
    received_at: int
    source: str
    reason: str
    payload: bytes
    content_type: str | None = None
    payload_size: int | None = None


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    fit: float
    behaviour: float


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event_id: str
    type: str
    occurred_at: int
    source: str
    url: str | None = None
    points: float = 0.0
    event: str | None = None


@dataclass(frozen=True, slots=True)
class LeadEvent:
    SCHEMA: ClassVar[str] = "LeadEvent"
    event_id: str
    prospect_id: str
    type: str
    occurred_at: int
    received_at: int
    version: int
    stage: str
    score: Score
    model_version: str
    cause_event_id: str
    email: str | None = None
    promoted_at: int | None = None
    dimensions: Mapping[str, float] = field(default_factory=dict)
    profile: Mapping[str, str] = field(default_factory=dict)
    segments: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    owner: str | None = None
    queue: str | None = None

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> "LeadEvent":
        data = dict(data)
        data["score"] = Score(**data["score"])
        data["segments"] = tuple(data["segments"])
        data["timeline"] = tuple(TimelineEntry(**entry) for entry in data["timeline"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class SlaEvent(_FlatRecord):
    SCHEMA: ClassVar[str] = "SlaEvent"
    event_id: str
    prospect_id: str
    sla_id: str
    type: str
    occurred_at: int
    received_at: int
    started_at: int
    due_at: int
    escalation_level: int = 0
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class CrmFeedback(_FlatRecord):
    SCHEMA: ClassVar[str] = "CrmFeedback"
    event_id: str
    prospect_id: str
    type: str
    occurred_at: int
    received_at: int
    deal_value: float | None = None
    reason: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityMerge(_FlatRecord):
    SCHEMA: ClassVar[str] = "IdentityMerge"
    event_id: str
    prospect_id: str
    anonymous_key: str
    occurred_at: int
    received_at: int
    email: str | None = None
    inputs: tuple[bytes, ...] = ()

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> "IdentityMerge":
        return cls(**{**data, "inputs": tuple(data["inputs"])})


@dataclass(frozen=True, slots=True)
class DeadLetter(_FlatRecord):
    SCHEMA: ClassVar[str] = "DeadLetter"
    event_id: str
    occurred_at: int
    received_at: int
    source_topic: str
    source_partition: int
    source_offset: int
    payload: bytes
    target: str
    error: str
    key: bytes | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Action(_FlatRecord):
    """What an automation or a program step does for a prospect; ``action_id`` is deterministic so that a
    replay or a redelivery produces the same id and delivery can de-duplicate on it."""

    SCHEMA: ClassVar[str] = "Action"
    action_id: str
    prospect_id: str
    type: str
    source: str
    source_kind: str
    file_version: str
    due_at: int
    occurred_at: int
    cause_event_id: str
    step: str | None = None
    target: str | None = None
    payload: Mapping[str, str] = field(default_factory=dict)
    email: str | None = None


Record = Interaction | RejectedInput | LeadEvent | SlaEvent | CrmFeedback | IdentityMerge | DeadLetter | Action
RECORD_TYPES: dict[str, type] = {t.SCHEMA: t for t in (Interaction, RejectedInput, LeadEvent, SlaEvent, CrmFeedback,
                                                      IdentityMerge, DeadLetter, Action)}
