"""Turn a lead change into the LeadEvent the CRM receives, and a prospect's history into its timeline."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Collection

from schemas.records import Action, Interaction, LeadEvent, Score, SlaEvent, TimelineEntry
from streams.core.automation_model import action_id
from streams.core.durations import format_duration_ms
from streams.core.ids import uuid5
from streams.core.model import ScoringModel
from streams.core.prospect import LeadChange, ProspectState, scores
from streams.core.sla import SlaStep

SCORE_DECIMALS = 2  # what sales sees; the state keeps full precision
_NAMESPACE = uuid.UUID("6f1c3f8e-58a5-4c41-9a4e-2f1d0c3b7a10").bytes


def timeline(state: ProspectState, only: Collection[str] | None = None) -> tuple[TimelineEntry, ...]:
    """Every retained interaction and CRM verdict (or just those in ``only``), chronological, with the points
    each earned."""
    points: Counter[str] = Counter()
    for entry in state.ledger:
        if (only is None or entry.event_id in only) and not entry.rule_id.startswith(("fit:", "recycle:")):
            points[entry.event_id] += entry.points
    history = state.history if only is None else _newest(state.history, only)
    entries = [
        TimelineEntry(event_id=i.event_id, type=i.type if isinstance(i, Interaction) else f"crm.{i.type}",
                      occurred_at=i.occurred_at, source=i.source if isinstance(i, Interaction) else "crm",
                      url=i.url if isinstance(i, Interaction) else None, points=points[i.event_id],
                      event=i.event if isinstance(i, Interaction) else None)
        for i in history
    ]
    return tuple(sorted(entries, key=lambda e: (e.occurred_at, e.event_id)))


def _newest(history: list, only: Collection[str]) -> list:
    """The entries of ``history`` with these event ids. Looked for from the newest end, where a batch's activity
    is, and no further than the last of them: a lead keeps up to 500 inputs, and an update names a few."""
    wanted, found, entries = set(only), set(), []
    for item in reversed(history):
        if item.event_id in wanted:
            found.add(item.event_id)
            entries.append(item)
            if len(found) == len(wanted):
                break
    return entries


def type_counts(state: ProspectState) -> dict[str, int]:
    return dict(Counter(i.type if isinstance(i, Interaction) else f"crm.{i.type}" for i in state.history))


def lead_event(state: ProspectState, change: LeadChange, model: ScoringModel,
               activity: Collection[str] | None = None) -> LeadEvent:
    """The id derives from the cause, so a reprocessed input re-emits the same event, not a new one.

    The timeline is the whole retained history, or only the inputs in ``activity``: an update
    carries the activity since the previous lead event, which the CRM adds to what it has."""
    assert state.prospect_id is not None, "only known prospects become leads"
    current = scores(state, model)
    return LeadEvent(
        event_id=uuid5(_NAMESPACE, f"{change.kind}/{state.prospect_id}/{change.cause_id}"),
        prospect_id=state.prospect_id,
        type=change.kind,
        occurred_at=change.occurred_at,
        received_at=change.received_at,
        version=state.version,
        email=state.email,
        stage=state.stage,
        promoted_at=state.promoted_at,
        score=Score(total=round(current.total, SCORE_DECIMALS), fit=round(current.fit, SCORE_DECIMALS),
                    behaviour=round(current.behaviour, SCORE_DECIMALS)),
        dimensions={name: round(value, SCORE_DECIMALS) for name, value in current.dimensions.items()},
        profile=dict(state.profile),
        segments=state.segments,
        timeline=timeline(state, activity),
        model_version=model.version,
        cause_event_id=change.cause_id,
        owner=state.owner,
        queue=state.queue,
    )


def sla_event(state: ProspectState, step: SlaStep) -> SlaEvent:
    """The ``SlaEvent`` for a step of the prospect's response clock; ``owner`` is who must act now (the
    owner or queue a reroute chose, or the manager an escalation notifies). The id is derived from the
    clock and the step, so a replayed step repeats with the same id."""
    clock = state.sla
    assert clock is not None, "an SLA step comes from the prospect's clock"
    return SlaEvent(
        event_id=uuid5(_NAMESPACE, f"{step.kind}/{state.prospect_id}/{clock.sla_id}/{clock.started_at}/{step.level}"),
        prospect_id=state.prospect_id or state.key, sla_id=clock.sla_id, type=step.kind, occurred_at=step.at,
        received_at=step.at, started_at=clock.started_at, due_at=clock.due_at, escalation_level=step.level,
        owner=step.to or clock.owner,
    )


def sla_notification(state: ProspectState, step: SlaStep, model: ScoringModel) -> Action | None:
    """The notification an SLA escalation step with ``action: notify`` sends (to the manager it names), on
    ``leadflow.actions`` like an automation's ``notify``, so the action delivery makes it reach somebody. Its id
    derives from the clock and the step (and the model's version), so a replayed step repeats it."""
    clock = state.sla
    if step.kind != "sla.escalated" or step.action != "notify" or clock is None:
        return None
    prospect = state.prospect_id or state.key
    cause = f"sla:{clock.sla_id}/{clock.started_at}/{step.kind}/{step.level}"
    target = step.to if step.to and ":" in step.to else f"person:{step.to}" if step.to and "@" in step.to \
        else f"queue:{step.to}" if step.to else "owner"
    waited = format_duration_ms(max(0, step.at - clock.due_at))
    who = state.email or prospect
    message = (f"{who} has waited {waited} past the response deadline of SLA {clock.sla_id} "
               f"(owner: {clock.owner or state.owner or 'none'}, queue: {state.queue or 'none'}): "
               f"escalation step {step.level}")
    return Action(action_id=action_id("sla", clock.sla_id, model.version, prospect, cause, "notify"),
                  prospect_id=prospect, type="notify", source=clock.sla_id, source_kind="sla",
                  file_version=model.version, due_at=step.at, occurred_at=step.at, cause_event_id=cause,
                  target=target, email=state.email,
                  payload={"message": message, "why": f"SLA {clock.sla_id} escalated (step {step.level})",
                           "who": who, "owner": clock.owner or state.owner or "", "queue": state.queue or ""})
