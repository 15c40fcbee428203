"""The suppression feed's decode: only interactions whose type can suppress are decoded, and none is missed."""

from __future__ import annotations

import pytest

from connectors.actions.suppressions import MAY_SUPPRESS, feed_decode
from schemas.codec import Codec, DecodeError
from schemas.records import Interaction, LeadEvent, Score
from streams.core.automation_triggers import suppression
from streams.core.model import INTERACTION_TYPES


def interaction(type_: str, **changes) -> Interaction:
    return Interaction(event_id="e1", prospect_key="p_1", prospect_id="p_1", type=type_, occurred_at=1,
                       received_at=2, source="test", **changes)


def test_the_filter_lets_through_every_type_the_engine_suppresses_for():
    """MAY_SUPPRESS restates which types ``suppression()`` answers for: it must not miss one."""
    for type_ in sorted(INTERACTION_TYPES | MAY_SUPPRESS | {"action.suppressed"}):
        if suppression(interaction(type_, properties={"bounce": "hard"})) is not None:
            assert type_ in MAY_SUPPRESS, type_


@pytest.mark.parametrize("type_", ["email.unsubscribed", "email.complained", "email.bounced"])
def test_a_type_that_may_suppress_is_decoded_whole(type_):
    codec = Codec()
    record = interaction(type_, properties={"bounce": "soft"}, url="https://a.io/x")
    assert feed_decode(codec)(codec.encode(record, "t")) == record


def test_other_interactions_are_not_decoded():
    codec = Codec()
    assert feed_decode(codec)(codec.encode(interaction("page.viewed", url="https://a.io/pricing"), "t")) is None


def test_what_the_type_cannot_be_read_from_is_decoded_as_before():
    codec = Codec()
    decode = feed_decode(codec)
    lead = LeadEvent(event_id="l1", prospect_id="p_1", type="lead.promoted", occurred_at=1, received_at=2,
                     version=1, stage="lead", score=Score(60, 10, 50), model_version="m1", cause_event_id="e1")
    assert decode(codec.encode(lead, "t")) == lead  # not an interaction: the feed's handler ignores it
    with pytest.raises(DecodeError):
        decode(codec.encode(interaction("email.opened"), "t")[:14])
