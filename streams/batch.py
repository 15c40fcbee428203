"""One batch of worker inputs: apply each to its prospect, collect the records the effects produce.

No I/O here; the worker sends ``outputs`` first and the changed states second, and
commits the inputs only after both are delivered. A crash before the states are
written replays the inputs (the outputs repeat, with the same ids, and the sink's
upserts absorb them); a crash after it finds the inputs already seen. Either way no
effect is lost. ``lead.updated`` is coalesced: one per prospect per batch, built from
its state at the end of the batch, with the activity since the prospect's previous lead
event as its timeline (promotions, demotions and recycles carry the whole timeline).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Union

from schemas.codec import Codec
from schemas.records import CrmFeedback, IdentityMerge, Interaction
from streams.core import automations, timers
from streams.core.automation_index import Engine
from streams.core.automation_state import ActionEffect, ProgramChange, Suppressed
from streams.core.identity import is_anonymous
from streams.core.leads import lead_event, sla_event, sla_notification
from streams.core.model import ScoringModel
from streams.core.prospect import Forward, LeadChange, MergeRequest, Outcome, ProspectState, Tick
from streams.core.recompute import rescore
from streams.core.sla import BREACHED, OPEN, SlaStep
from streams.live_states import LiveStates

WorkerInput = Union[Interaction, CrmFeedback, Tick, MergeRequest]
TICK_TYPE = "clock.tick"  # not an interaction: the worker's own marker that time has passed


@dataclass(frozen=True, slots=True)
class Topics:
    interactions: str
    identity: str
    leads: str
    sla: str
    actions: str


class Record(NamedTuple):
    """A record to produce, in the shape ``leadflow.kafka.send_batched`` takes."""

    topic: str
    key: bytes
    value: bytes
    partition: int | None = None  # None: the producer's partitioner picks it from the key


def to_input(record: object, codec: Codec) -> tuple[bytes, str, WorkerInput] | None:
    """(prospect key, kind for metrics, core input) for a decoded record; None for a record of no concern."""
    if isinstance(record, Interaction):
        if record.type == TICK_TYPE:
            return record.prospect_key.encode(), TICK_TYPE, Tick(record.occurred_at)
        return record.prospect_key.encode(), record.type, record
    if isinstance(record, CrmFeedback):
        return record.prospect_id.encode(), f"crm.{record.type}", record
    if isinstance(record, IdentityMerge):
        link = Interaction(event_id=record.event_id, prospect_key=record.anonymous_key,
                           prospect_id=record.prospect_id, email=record.email, type="identity.linked",
                           occurred_at=record.occurred_at, received_at=record.received_at, source="worker")
        return (record.prospect_id.encode(), "identity.merged",
                MergeRequest(link, tuple(codec.decode(data) for data in record.inputs)))
    return None


@dataclass
class Batch:
    """``states`` is the worker's table of live states."""

    model: ScoringModel
    codec: Codec
    topics: Topics
    states: LiveStates
    on_lead_event: Callable[[str], None] = lambda kind: None
    on_sla_step: Callable[[str], None] = lambda kind: None
    on_first_response: Callable[[float], None] = lambda seconds: None  # from promotion to the first verdict
    engine: Engine | None = None  # the automation file compiled against the model; None: no automations
    on_action: Callable[[str], None] = lambda type_: None
    on_program: Callable[[ProgramChange], None] = lambda change: None
    on_suppressed: Callable[[str], None] = lambda reason: None
    before_change: Callable[[bytes], None] | None = None  # called with a key before its state changes in place
    outputs: list[Record] = field(default_factory=list)
    changed: dict[bytes, int] = field(default_factory=dict)  # key -> partition
    duplicates: int = 0
    created: Counter[str] = field(default_factory=Counter)  # new prospects: "known" or "anonymous"
    _pending_updates: dict[bytes, LeadChange] = field(default_factory=dict)
    _activity: dict[bytes, set[str]] = field(default_factory=dict)  # inputs since the key's last lead event

    def state(self, key: bytes, partition: int | None = None) -> ProspectState:
        # read from its store on first use; ``partition``, when known (an input's), spares hashing the key
        state: ProspectState | None = self.states.fetch(key, partition)  # type: ignore[assignment]
        if state is None:
            state = self.states[key] = ProspectState(key.decode())
            self.created["anonymous" if is_anonymous(state.key) else "known"] += 1
        return state

    def add(self, key: bytes, partition: int, item: WorkerInput) -> None:
        if self.before_change is not None:
            self.before_change(key)
        state = self.state(key, partition)
        unanswered = state.sla is not None and state.sla.responded_at is None
        outcome = automations.step(state, item, self.model, self.engine)
        if not outcome.changed:
            self.duplicates += not isinstance(item, Tick)
            return
        clock = outcome.state.sla
        if unanswered and clock is not None and clock.responded_at is not None:
            self.on_first_response(max(0, clock.responded_at - clock.started_at) / 1000)
        activity = self._activity.setdefault(key, set())
        if isinstance(item, MergeRequest):
            activity.update(i.event_id for i in item.inputs)
        elif not isinstance(item, Tick):
            activity.add(item.event_id)
        self._take(key, partition, outcome)

    def rescore_if_stale(self, key: bytes, partition: int) -> bool:
        """Recompute a state scored under another model (a new model was deployed); True if it was."""
        state = self.state(key)
        if state.model_version in (None, self.model.version):
            return False
        if self.before_change is not None:
            self.before_change(key)
        self._take(key, partition, rescore(state, self.model))
        return True

    def _take(self, key: bytes, partition: int, outcome: Outcome) -> None:
        self.states[key] = outcome.state
        self.changed[key] = partition
        for effect in outcome.effects:
            handler = EFFECT_HANDLERS.get(type(effect))
            if handler is None:
                raise TypeError(f"no handler for the core's {type(effect).__name__} effect: add one to EFFECT_HANDLERS")
            handler(self, key, outcome.state, effect)

    # One handler per kind of effect the core returns (EFFECT_HANDLERS below): a new kind of effect is one
    # method and one entry, not another branch.

    def _forward(self, key: bytes, state: ProspectState, effect: Forward) -> None:
        moved = effect.interaction
        self._emit(self.topics.interactions, moved.prospect_key.encode(), moved)

    def _merge(self, key: bytes, state: ProspectState, effect: MergeRequest) -> None:
        self._emit(self.topics.identity, (effect.link.prospect_id or "").encode(), self._merge_record(effect))

    def _sla_step(self, key: bytes, state: ProspectState, effect: SlaStep) -> None:
        self.on_sla_step(effect.kind)
        event = sla_event(state, effect)
        self._emit(self.topics.sla, event.prospect_id.encode(), event)
        notification = sla_notification(state, effect, self.model)
        if notification is not None:  # an escalation that notifies: a real notification, by the action delivery
            self.on_action(notification.type)
            self._emit(self.topics.actions, notification.prospect_id.encode(), notification)

    def _lead_change(self, key: bytes, state: ProspectState, effect: LeadChange) -> None:
        if effect.kind == "lead.updated":  # coalesced: one per prospect per batch, built in finish()
            self._pending_updates[key] = effect
            return
        # promoted, demoted, recycled: each is a moment the CRM must see, and carries the whole lead
        self._pending_updates.pop(key, None)
        self._activity.pop(key, None)
        self._lead(state, effect, None)

    def _action(self, key: bytes, state: ProspectState, effect: ActionEffect) -> None:
        self.on_action(effect.action.type)
        self._emit(self.topics.actions, effect.action.prospect_id.encode(), effect.action)

    def _program(self, key: bytes, state: ProspectState, effect: ProgramChange) -> None:
        self.on_program(effect)

    def _suppressed(self, key: bytes, state: ProspectState, effect: Suppressed) -> None:
        self.on_suppressed(effect.reason)

    def finish(self) -> list[Record]:
        """The outputs of the whole batch, the coalesced updates last."""
        for key, change in self._pending_updates.items():
            self._lead(self.state(key), change, self._activity.get(key, set()))
        self._pending_updates.clear()
        return self.outputs

    def clock_status(self, key: bytes) -> str | None:
        """'open' or 'breached' while the prospect's response clock waits for a first response, else None."""
        clock = self.state(key).sla
        if clock is None or clock.responded_at is not None or clock.status not in (OPEN, BREACHED):
            return None
        return clock.status

    def deadline(self, key: bytes) -> int | None:
        """When the prospect next has something due without an input (an SLA step, a decay demotion, a
        program wait, ...): the worker ticks the prospect then."""
        return timers.next_due(self.state(key), self.model, self.engine)

    def _lead(self, state: ProspectState, change: LeadChange, activity: set[str] | None) -> None:
        event = lead_event(state, change, self.model, activity)
        self.on_lead_event(event.type)
        self._emit(self.topics.leads, event.prospect_id.encode(), event)

    def _emit(self, topic: str, key: bytes, record: object) -> None:
        self.outputs.append(Record(topic, key, self.codec.encode(record, topic)))

    def _merge_record(self, request: MergeRequest) -> IdentityMerge:
        link = request.link
        return IdentityMerge(event_id=link.event_id, prospect_id=link.prospect_id or "", email=link.email,
                             anonymous_key=link.prospect_key, occurred_at=link.occurred_at,
                             received_at=link.received_at,
                             inputs=tuple(self.codec.encode(i, self.topics.identity) for i in request.inputs))


EFFECT_HANDLERS: dict[type, Callable[[Batch, bytes, ProspectState, Any], None]] = {
    Forward: Batch._forward,
    MergeRequest: Batch._merge,
    SlaStep: Batch._sla_step,
    LeadChange: Batch._lead_change,
    ActionEffect: Batch._action,
    ProgramChange: Batch._program,
    Suppressed: Batch._suppressed,
}
