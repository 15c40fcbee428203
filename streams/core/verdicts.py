"""A CRM's verdict on a lead, as it arrives over HTTP or in the `crm_feedback` table -> `CrmFeedback`.

One mapping for both paths, so the same verdict gets the same event id whichever way it
came: the CRM's own id when it sends one, else who + what + when. A CRM that retries a
post, or a row published twice, is then de-duplicated by the worker.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from streams.core.hygiene import Unclean, check_text
from schemas.records import CrmFeedback
from schemas.timestamps import DEFAULT_MAX_FUTURE_S, epoch_ms, latest
from streams.core.identity import InvalidEmail, prospect_id_for
from streams.core.ids import uuid5
from streams.core.lifecycle import VERDICTS

FIELDS = ("id", "prospect_id", "email", "verdict", "occurred_at", "deal_value", "reason", "owner")
_NAMESPACE = uuid.UUID("0b7c8f55-3f0e-4f5b-9d58-5e7f5c1f2a61").bytes
MAX_TEXT = 500


class VerdictError(ValueError):
    """The verdict is unusable; the message is the reason given back to the CRM."""


def verdict_from(item: Any, now_ms: int, max_future_s: float = DEFAULT_MAX_FUTURE_S) -> CrmFeedback:
    """The verdict, or VerdictError with the reason: texts are checked by the collector's hygiene, and
    ``occurred_at`` may be at most ``max_future_s`` ahead of ``now_ms`` (LEADFLOW_MAX_FUTURE_SECONDS)."""
    if not isinstance(item, Mapping):
        raise VerdictError("a verdict must be a JSON object")
    unknown = set(item) - set(FIELDS)
    if unknown:
        raise VerdictError(f"unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(FIELDS)}")
    verdict = item.get("verdict")
    if verdict not in VERDICTS:
        raise VerdictError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    prospect_id = _text(item, "prospect_id")
    email = _text(item, "email")
    if email is not None:
        try:
            by_email = prospect_id_for(email)
        except InvalidEmail as exc:
            raise VerdictError(str(exc)) from None
        if prospect_id is not None and prospect_id != by_email:
            raise VerdictError("prospect_id and email name different prospects")
        prospect_id = by_email
    if prospect_id is None:
        raise VerdictError("prospect_id or email is required")
    try:
        occurred_at = epoch_ms(item.get("occurred_at"), now_ms, latest(now_ms, max_future_s))
    except ValueError as exc:
        raise VerdictError(f"occurred_at: {exc}") from None
    deal_value = item.get("deal_value")
    if deal_value is not None:
        if isinstance(deal_value, bool) or not isinstance(deal_value, (int, float, str)):
            raise VerdictError("deal_value must be a number")
        try:
            deal_value = float(deal_value)
        except ValueError:
            raise VerdictError(f"deal_value must be a number, got {deal_value!r}") from None
        if deal_value < 0 or deal_value != deal_value:
            raise VerdictError("deal_value must be a non-negative number")
    own_id = item.get("id")
    if own_id is not None and (isinstance(own_id, bool) or not isinstance(own_id, (str, int))):
        raise VerdictError("id must be a string or an integer (the CRM's id of this verdict)")
    identity = f"crm/{own_id}" if own_id is not None else f"{prospect_id}/{verdict}/{occurred_at}"
    return CrmFeedback(event_id=uuid5(_NAMESPACE, identity), prospect_id=prospect_id, type=verdict,
                       occurred_at=occurred_at, received_at=now_ms, deal_value=deal_value,
                       reason=_text(item, "reason"), owner=_text(item, "owner"))


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise VerdictError(f"{name} must be a string")
    try:
        return check_text(name, value, MAX_TEXT, "text" if name == "reason" else "line")
    except Unclean as exc:
        raise VerdictError(str(exc)) from None
