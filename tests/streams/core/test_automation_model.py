from hypothesis import given
from hypothesis import strategies as st

from streams.core.automation_model import action_id

parts = st.tuples(st.sampled_from(["automation", "program"]), st.text(max_size=8), st.text(max_size=4),
                  st.text(max_size=8), st.text(max_size=8), st.text(max_size=4))


@given(parts)
def test_the_action_id_is_stable(key):
    assert action_id(*key) == action_id(*key)


@given(parts, parts)
def test_distinct_inputs_give_distinct_action_ids(a, b):
    assert (action_id(*a) == action_id(*b)) == (a == b)


def test_no_part_can_imitate_another():
    # a naive join with a separator would give both the same id
    assert action_id("automation", "a|b", "1", "p", "e", "0") != action_id("automation", "a", "b|1", "p", "e", "0")
    assert action_id("program", "x", "1", "p", "e1", "s") != action_id("automation", "x", "1", "p", "e1", "s")


def test_the_id_is_pinned():
    """The ids are in consumers' de-duplication tables: a change to the derivation would fire everything again."""
    assert action_id("automation", "promoted-to-sales", "automations-1", "p_1", "e1", "0") == \
        "0f12e0b7-19dd-57ee-88ef-f74616f43c46"


@given(st.lists(st.text(), min_size=6, max_size=6))
def test_the_fast_derivation_is_uuid5_of_the_json_parts(parts):
    import json
    import uuid

    from streams.core.automation_model import ACTION_NAMESPACE
    assert action_id(*parts) == str(uuid.uuid5(ACTION_NAMESPACE, json.dumps(parts, ensure_ascii=False)))
