"""Avro schemas (``*.avsc``, the single source of truth), their typed records and the codec."""

from schemas.codec import Codec, DecodeError
from schemas.records import Action, CrmFeedback, Interaction, LeadEvent, RejectedInput, Score, SlaEvent, TimelineEntry

__all__ = [
    "Action", "Codec", "DecodeError", "CrmFeedback", "Interaction", "LeadEvent", "RejectedInput", "Score", "SlaEvent",
    "TimelineEntry",
]
