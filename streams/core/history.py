"""A prospect's retained history: its inputs in canonical order, trimmed to the model's retention.

Canonical order (event time, then receive time, then event id) is what makes a replay, a
merge and a rescore give the same result whatever order the inputs arrived in.
"""

from __future__ import annotations

import bisect
from typing import Union

from schemas.records import CrmFeedback, Interaction
from streams.core.model import ScoringModel

Input = Union[Interaction, CrmFeedback]


def canonical_order(inputs: list[Input]) -> list[Input]:
    return sorted(inputs, key=_order)


def retain(history: list[Input], item: Input, model: ScoringModel) -> None:
    """Add ``item`` in canonical order and trim from the oldest end to the retention (count and age)."""
    if not history or history[-1].occurred_at < item.occurred_at or _order(history[-1]) <= _order(item):
        history.append(item)
    else:  # an out-of-order input: rare
        bisect.insort(history, item, key=_order)
    if len(history) > model.timeline_max_events:
        del history[:len(history) - model.timeline_max_events]
    if model.timeline_max_age_ms is not None:
        horizon = history[-1].occurred_at - model.timeline_max_age_ms
        while history[0].occurred_at < horizon:  # stops at the newest entry at the latest
            del history[0]


def _order(item: Input) -> tuple[int, int, str]:
    return item.occurred_at, item.received_at, item.event_id
