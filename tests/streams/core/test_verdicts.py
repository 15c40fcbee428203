import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.verdicts import FIELDS, VerdictError, verdict_from
from streams.core.identity import prospect_id_for

NOW = 1_767_000_000_000


def test_a_verdict_by_email_is_keyed_by_the_prospect_id_and_dated():
    verdict = verdict_from({"email": "Ann@Example.com", "verdict": "won", "deal_value": "1200.50", "owner": "alice",
                            "occurred_at": "2026-01-02T03:04:05Z"}, NOW)
    assert verdict.prospect_id == prospect_id_for("ann@example.com") and verdict.type == "won"
    assert (verdict.deal_value, verdict.owner, verdict.received_at) == (1200.5, "alice", NOW)
    assert verdict.occurred_at == 1_767_323_045_000


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
