"""One contract, both stores: what the table relies on from a partition's store, run against memory and RocksDB."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.store import MemoryStore, RocksStore, StoreError, StoreIdentity

IDENTITY = StoreIdentity("leadflow.prospect-state", 6, 2, 5)


@pytest.fixture(params=["memory", "rocksdb"])
def open_store(request, tmp_path):
    """A function opening the partition's store (again: the same one, as a restarted worker would)."""
    opened = []

    def open_() -> object:
        store = MemoryStore(2) if request.param == "memory" else RocksStore(tmp_path / "p2", 2)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        try:
            store.close()
        except AttributeError:
            pass  # closed by the test


def test_a_new_store_is_empty_at_offset_zero_with_no_identity(open_store):
    store = open_store()
    assert store.offset() == 0 and store.identity() is None
    assert list(store.items()) == [] and list(store.timers()) == [] and store.get(b"p") is None


def test_writes_states_timers_offset_and_facts_together(open_store):
    store = open_store()
    store.reset(IDENTITY)
    store.write({b"a": b"A1", b"b": b"B1"}, {b"a": b"17 open"}, 10, {"model": b"m-1"})
    store.write({b"a": b"A2", b"b": None}, {b"b": None}, 12)
    assert store.get(b"a") == b"A2" and store.get(b"b") is None
    assert dict(store.items()) == {b"a": b"A2"} and dict(store.timers()) == {b"a": b"17 open"}
    assert store.offset() == 12 and store.meta("model") == b"m-1" and store.identity() == IDENTITY
    store.write({}, {}, None)  # no offset: it stays
    assert store.offset() == 12


def test_reset_empties_the_store_and_claims_it(open_store):
    store = open_store()
    store.reset(IDENTITY)
    store.write({b"a": b"A"}, {b"a": b"5 "}, 3, {"model": b"m"})
    other = StoreIdentity("other.prospect-state", 6, 2, 5)
    store.reset(other)
    assert list(store.items()) == [] and list(store.timers()) == [] and store.offset() == 0
    assert store.meta("model") is None and store.identity() == other


def test_claim_keeps_what_the_store_holds(open_store):
    store = open_store()
    store.reset(StoreIdentity("leadflow.prospect-state", 6, 2, 4))
    store.write({b"a": b"A"}, {b"a": b"5 "}, 3, {"model": b"m"})
    store.claim(IDENTITY)
    assert store.identity() == IDENTITY and dict(store.items()) == {b"a": b"A"} and store.offset() == 3
    assert store.meta("model") == b"m"


def test_identity_mismatch_names_what_differs():
    assert IDENTITY.mismatch(IDENTITY) is None
    assert IDENTITY.mismatch(None) == "it has no identity (not written by a leadflow worker)"
    assert IDENTITY.mismatch(StoreIdentity("leadflow.prospect-state", 12, 2, 5)) == "its partitions is 12, not 6"
    older = StoreIdentity("leadflow.prospect-state", 6, 2, 4)
    assert IDENTITY.mismatch(older) == "its state_format is 4, not 5" and IDENTITY.mismatch(older, (4,)) is None
    assert StoreIdentity.load(b"not json") is None and StoreIdentity.load(b'{"x": 1}') is None


def test_the_rocksdb_store_survives_a_reopen(tmp_path):
    store = RocksStore(tmp_path / "p2", 2)
    store.reset(IDENTITY)
    store.write({b"a": b"A"}, {b"a": b"9 breached"}, 40)
    store.close()
    again = RocksStore(tmp_path / "p2", 2)
    try:
        assert again.identity() == IDENTITY and again.offset() == 40
        assert again.get(b"a") == b"A" and dict(again.timers()) == {b"a": b"9 breached"}
        assert again.disk_bytes() > 0
    finally:
        again.close()


def test_a_store_another_process_holds_is_refused_with_its_path(tmp_path):
    store = RocksStore(tmp_path / "p2", 2)
    try:
        with pytest.raises(StoreError, match=str(tmp_path / "p2")):
            RocksStore(tmp_path / "p2", 2)
    finally:
        store.close()


def test_a_failed_write_names_the_store(tmp_path, monkeypatch):
    store = RocksStore(tmp_path / "p2", 2)
    try:
        def full(batch):
            raise Exception("IO error: No space left on device")

        monkeypatch.setattr(store, "_db", _Failing(store._db, full))
        with pytest.raises(StoreError, match=rf"cannot write the state store {tmp_path / 'p2'}: .*No space left"):
            store.write({b"a": b"A"}, {}, 1)
    finally:
        monkeypatch.undo()
        store.close()


class _Failing:
    def __init__(self, db, write) -> None:
        self._db, self.write = db, write

    def __getattr__(self, name):
        return getattr(self._db, name)


ops = st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c", b"d"]), st.one_of(st.none(), st.binary(max_size=8))),
               max_size=12)


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(ops, max_size=5))
def test_both_stores_end_with_the_same_contents(tmp_path_factory, batches):
    """Any sequence of batched writes leaves the memory store and the RocksDB store with the same contents."""
    memory = MemoryStore(0)
    rocks = RocksStore(Path(tmp_path_factory.mktemp("rocks")) / "p0", 0)
    try:
        for store in (memory, rocks):
            store.reset(IDENTITY)
            for offset, batch in enumerate(batches, start=1):
                store.write(dict(batch), {key: value for key, value in batch}, offset)
        assert dict(memory.items()) == dict(rocks.items())
        assert dict(memory.timers()) == dict(rocks.timers())
        assert memory.offset() == rocks.offset() == len(batches)
    finally:
        rocks.close()
