"""Turn a lead change into the LeadEvent the CRM receives."""

from __future__ import annotations

import uuid

from schemas.records import LeadEvent, Score
from streams.core.model import ScoringModel
from streams.core.prospect import LeadChange, ProspectState

_NAMESPACE = uuid.UUID("6f1c3f8e-58a5-4c41-9a4e-2f1d0c3b7a10")


def lead_event(state: ProspectState, change: LeadChange, model: ScoringModel) -> LeadEvent:
    """The id derives from the cause, so a reprocessed interaction re-emits the same event, not a new one."""
    assert state.prospect_id is not None, "only known prospects become leads"
    cause = change.cause
    return LeadEvent(
        event_id=str(uuid.uuid5(_NAMESPACE, f"{change.kind}/{state.prospect_id}/{cause.event_id}")),
        prospect_id=state.prospect_id,
        type=change.kind,
        occurred_at=cause.occurred_at,
        received_at=cause.received_at,
        version=state.version,
        email=state.email,
        stage=state.stage,
        promoted_at=state.promoted_at,
        score=Score(total=state.total, fit=state.fit, behaviour=state.behaviour),
        profile=dict(state.profile),
        timeline=state.timeline,
        model_version=model.version,
        cause_event_id=cause.event_id,
    )
