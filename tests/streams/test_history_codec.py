"""History entries as stored arrays: whatever the entries, they read back equal, however the array was put
together (whole, or a kept part plus entries written after it), and arrays written before format 7 read as
they are."""

import dataclasses

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import CrmFeedback, Interaction
from streams import history_codec

texts = st.sampled_from(["p_1", "p_2", "page.viewed", "https://a.io/", "x@y.io", ""])
maybe = st.one_of(st.none(), texts)
mappings = st.sampled_from([{}, {"plan": "pro"}, {"plan": "free"}])
interactions = st.builds(
    Interaction, event_id=st.uuids().map(str), prospect_key=texts, type=texts, occurred_at=st.integers(0, 10**13),
    received_at=st.integers(0, 10**13), source=texts, prospect_id=maybe, anonymous_id=maybe, email=maybe,
    url=maybe, referrer=maybe, title=maybe, campaign=maybe, message_id=maybe, form_id=maybe, ip=maybe,
    user_agent=maybe, machine=st.booleans(), properties=mappings, traits=mappings, event=maybe)
verdicts = st.builds(CrmFeedback, event_id=st.uuids().map(str), prospect_id=texts, type=texts,
                     occurred_at=st.integers(0, 10**13), received_at=st.integers(0, 10**13),
                     deal_value=st.one_of(st.none(), st.floats(0, 1e6)), reason=maybe, owner=maybe)
histories = st.lists(st.one_of(interactions, interactions, interactions, verdicts), max_size=12)


def stored(rows: list) -> list:
    return orjson.loads(orjson.dumps(rows))


@settings(max_examples=200, deadline=None)
@given(entries=histories, cut=st.integers(0, 12))
def test_entries_read_back_equal_however_the_array_was_put_together(entries, cut):
    assert history_codec.decode(stored(history_codec.encode(entries))) == entries
    cut = min(cut, len(entries))
    kept = history_codec.encode(entries[:cut])  # written earlier; the rest written after it (what a write keeps)
    after = history_codec.encode(entries[cut:], entries[cut - 1] if cut else None)
    assert history_codec.decode(stored(kept + after)) == entries
    assert history_codec.decode(stored(history_codec.encode(entries[cut:]))) == entries[cut:]  # stands alone


def test_repeated_fields_are_written_once_and_shared_when_read():
    first = Interaction(event_id="e1", prospect_key="p_1", type="page.viewed", occurred_at=1, received_at=1,
                        source="web", email="x@y.io", url="https://a.io/pricing", properties={"plan": "pro"})
    second = dataclasses.replace(first, event_id="e2", occurred_at=2, received_at=2, url="https://a.io/docs")
    rows = stored(history_codec.encode([first, second]))
    assert rows[1] == ["i", "e2", 0, 0, 2, 2, 0, 0, 0, 0, "https://a.io/docs", 0, 0, 0, 0, 0, 0, 0, False, 0, 0, 0]
    one, two = history_codec.decode(rows)
    assert two == second and two.email is one.email and two.properties is one.properties


def test_arrays_written_before_format_7_read_as_they_are():
    entry = Interaction(event_id="e1", prospect_key="p_1", type="page.viewed", occurred_at=1, received_at=1,
                        source="web", email="x@y.io", properties={"plan": "pro"})
    whole = ["i", *(getattr(entry, f.name) for f in dataclasses.fields(Interaction))]
    assert history_codec.decode(stored([whole, whole])) == [entry, entry]
    older = whole[:-1]  # before the schema's last field: its default
    assert history_codec.decode(stored([older])) == [dataclasses.replace(entry, event=None)]
    second = dataclasses.replace(entry, event_id="e2", event="signup")
    repeated = stored(history_codec.encode([entry, second]))[1][:-1]  # 0s, and without the last field
    assert history_codec.decode([whole, repeated]) == [entry, dataclasses.replace(second, event=None)]
