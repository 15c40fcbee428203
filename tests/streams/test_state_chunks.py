"""A prospect's state as a head and chunks: whatever the inputs do to its lists (appends, late inputs inserted in
the middle, trimming at the old end, a redelivery, eviction and reading back), the records written so far load
back to the very state, every chunk a head names is there, and no chunk is left that no head names."""

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import Interaction
from streams import state_chunks
from streams.core.model import parse_model
from streams.core.prospect import ProspectState, apply
from streams.state_codec import dump_state

MODEL = parse_model("""\
version: chunks-test
thresholds: {promote: 1000, demote: 500}
timeline: {max_events: 40}
rules:
  - {id: view, when: {type: page.viewed}, points: 1}
""")
KEY = b"p_chunky"

def view(n: int, at: int) -> Interaction:
    return Interaction(event_id=f"e{n}", prospect_key=KEY.decode(), prospect_id=KEY.decode(), email="c@x.io",
                       type="page.viewed", occurred_at=at, received_at=at, source="test", url="https://a.io/")

steps = st.lists(st.tuples(st.integers(min_value=-50, max_value=5),  # time step: mostly forward, sometimes late
                           st.booleans(),  # a checkpoint after this input
                           st.booleans()),  # evicted and read back after the checkpoint
                 min_size=1, max_size=150)

@settings(max_examples=60, deadline=None)
@given(steps=steps, redeliver=st.integers(min_value=0, max_value=10))
def test_the_records_written_load_back_to_the_state(steps, redeliver):
    state, written, store = ProspectState(KEY.decode()), None, {}
    at = 1_000_000
    for n, (step, checkpoint, evict) in enumerate(steps):
        at += step * 1000
        apply(state, view(n, at), MODEL)
        if n == redeliver:
            apply(state, view(0, at), MODEL)  # a redelivery: nothing changes
        if checkpoint or n == len(steps) - 1:
            records, written = state_chunks.dump(KEY, state, written)
            for key, value in records:
                if value is None:
                    store.pop(key, None)
                else:
                    store[key] = value
            if evict:
                state, written = state_chunks.load(store[KEY], store.get)
    loaded, _ = state_chunks.load(store[KEY], store.get)
    assert dump_state(loaded) == dump_state(state)
    named = set(state_chunks.chunk_keys(store[KEY]))
    assert named == {key for key in store if state_chunks.is_chunk(key)}

def test_a_checkpoint_of_an_appended_input_writes_the_head_and_the_last_chunks_only():
    state, written = ProspectState(KEY.decode()), None
    for n in range(39):
        apply(state, view(n, 1_000 + n), MODEL)
    first, written = state_chunks.dump(KEY, state, written)
    apply(state, view(39, 2_000), MODEL)
    records, _ = state_chunks.dump(KEY, state, written)
    assert sum(len(v or b"") for _, v in records) < 0.7 * sum(len(v or b"") for _, v in first)  # not chunk 0
    kinds = sorted(key.split(b"\x00")[1][:1] for key, value in records if value is not None and b"\x00" in key)
    assert kinds == [b"h"]  # one chunk of the history (the one the new entry went into); short lists: in the head

def test_a_head_written_whole_by_format_5_loads_and_is_rewritten_as_the_current_format():
    state = ProspectState(KEY.decode())
    apply(state, view(0, 1_000), MODEL)
    whole = dump_state(state).replace(b'"f":7', b'"f":5')
    loaded, written = state_chunks.load(whole, lambda key: None)
    assert written is None and loaded.history == state.history
    [(key, head)] = state_chunks.dump(KEY, loaded, written)[0]  # a short history: all in the head
    assert key == KEY and b'"f":7' in head and b'"chunks"' in head
