"""The bounded cache of live states: least recently used out first, never a state the store does not have yet."""

from streams.live_states import LiveStates


def test_a_miss_reads_the_store_and_a_trim_evicts_the_least_recently_used_unpinned():
    store = {b"cold": b"bytes of cold"}
    cache = LiveStates(lambda key, partition: store.get(key), limit=2)
    assert cache.get(b"cold") == b"bytes of cold" and cache.reads() == 1  # from the store, now cached
    assert cache.get(b"never") is None and b"never" not in cache
    assert cache.reads() == 0  # counted once, and a name no store has is no read
    cache[b"a"], cache[b"b"] = "A", "B"
    cache.get(b"cold")  # touched: now the most recent
    assert list(cache) == [b"a", b"b", b"cold"]
    assert cache.trim(pinned={b"a"}) == 1  # a is pinned (changed since the last store write): b goes
    assert list(cache) == [b"a", b"cold"]
    assert cache.trim(pinned=set()) == 0


def test_discard_and_drop_forget_without_reading_the_store():
    reads = []
    cache = LiveStates(lambda key, partition: reads.append(key), limit=10)
    cache[b"p0"], cache[b"p1"] = "0", "1"
    cache.discard(b"p0")
    cache.discard(b"absent")
    cache.drop(lambda key: key != b"p1")
    assert len(cache) == 0 and reads == []
