import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.verdicts import FIELDS, VerdictError, verdict_from
from streams.core.identity import prospect_id_for

NOW = 1_767_000_000_000


def test_a_verdict_by_email_is_keyed_by_the_prospect_id_and_dated():
    verdict = verdict_from({"email": "Ann@Example.com", "verdict": "won", "deal_value": "1200.50", "owner": "alice",
                            "occurred_at": "2025-12-02T03:04:05Z"}, NOW)
    assert verdict.prospect_id == prospect_id_for("ann@example.com") and verdict.type == "won"
    assert (verdict.deal_value, verdict.owner, verdict.received_at) == (1200.5, "alice", NOW)
    assert verdict.occurred_at == 1_764_644_645_000


def test_the_same_verdict_gets_the_same_id_so_retries_are_de_duplicated():
    item = {"prospect_id": "p_1", "verdict": "accepted", "occurred_at": 1_767_000_000_000}
    assert verdict_from(item, NOW).event_id == verdict_from(item, NOW + 5).event_id
    assert verdict_from({**item, "id": 7}, NOW).event_id == verdict_from({**item, "id": 7, "owner": "x"}, NOW).event_id
    assert verdict_from({**item, "id": 7}, NOW).event_id != verdict_from({**item, "id": 8}, NOW).event_id
    assert verdict_from(item, NOW).event_id != verdict_from({**item, "verdict": "lost"}, NOW).event_id


@pytest.mark.parametrize("item, reason", [
    ([], "must be a JSON object"),
    ({"prospect_id": "p_1"}, "verdict must be one of"),
    ({"prospect_id": "p_1", "verdict": "maybe"}, "verdict must be one of"),
    ({"verdict": "lost"}, "prospect_id or email is required"),
    ({"email": "nope", "verdict": "lost"}, "not a valid email"),
    ({"email": "a@b.io", "prospect_id": "p_other", "verdict": "lost"}, "different prospects"),
    ({"prospect_id": "p_1", "verdict": "won", "deal_value": "lots"}, "deal_value must be a number"),
    ({"prospect_id": "p_1", "verdict": "won", "deal_value": -1}, "non-negative"),
    ({"prospect_id": "p_1", "verdict": "won", "occurred_at": "yesterday"}, "occurred_at: timestamp is not ISO"),
    ({"prospect_id": "p_1", "verdict": "won", "stage": "x"}, "unknown field(s) stage"),
    ({"prospect_id": 5, "verdict": "won"}, "prospect_id must be a string"),
])
def test_bad_verdicts_are_refused_with_a_reason(item, reason):
    with pytest.raises(VerdictError, match=None) as err:
        verdict_from(item, NOW)
    assert reason in str(err.value)


@given(st.dictionaries(st.sampled_from(FIELDS), st.none() | st.booleans() | st.integers() | st.floats()
                       | st.text(max_size=30)))
def test_any_object_is_a_verdict_or_a_verdict_error(item):
    try:
        verdict = verdict_from(item, NOW)
    except VerdictError:
        return
    assert verdict.type in ("accepted", "contacted", "won", "lost", "disqualified") and verdict.prospect_id


@pytest.mark.parametrize("item, reason", [
    ({"prospect_id": "p_1", "verdict": "won", "occurred_at": "9999-12-31T23:59:59Z"}, "in the future"),
    ({"prospect_id": "p_1", "verdict": "won", "occurred_at": NOW + 86_400_001}, "in the future"),
    ({"prospect_id": "p_1", "verdict": "lost", "reason": "bad\x00fit"}, "'reason' contains the control character U+0000"),
    ({"prospect_id": "p_1", "verdict": "won", "owner": "al\x1b[2Jice"}, "'owner' contains the control character U+001B"),
    ({"prospect_id": "p\u0085_1", "verdict": "won"}, "'prospect_id' contains the control character U+0085"),
    ({"email": "a\x00@b.io", "verdict": "won"}, "'email' contains the control character U+0000"),
    ({"email": "<a>@b.io", "verdict": "won"}, "not a valid email"),
])
def test_future_verdicts_and_control_characters_are_refused(item, reason):
    with pytest.raises(VerdictError) as err:
        verdict_from(item, NOW)
    assert reason in str(err.value)


def test_old_verdicts_and_multi_line_reasons_are_kept():
    verdict = verdict_from({"prospect_id": "p_1", "verdict": "lost", "occurred_at": "2001-01-01T00:00:00Z",
                            "reason": "went with a competitor\nprice\tmatters"}, NOW)
    assert verdict.occurred_at == 978_307_200_000 and verdict.reason == "went with a competitor\nprice\tmatters"
    assert verdict_from({"prospect_id": "p_1", "verdict": "won", "occurred_at": NOW + 3_600_000}, NOW)
