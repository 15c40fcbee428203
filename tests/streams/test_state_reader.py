"""The readers of prospect state (`leadflow explain`, `rescore`, `automations`, the backtests, the prospect API):
a partition's local store plus the changelog's tail gives the very states the whole changelog gives, while a
worker holds the store too; a store that is not a copy of this changelog is left alone; one prospect is read
from its own partition and decoded alone."""

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest

from leadflow.config import Config
from leadflow.partitioner import partition_of
from leadflow.topic_reader import TopicReader
from schemas.records import Interaction
from streams import state_chunks, state_reader
from streams.core.model import parse_model
from streams.core.prospect import ProspectState, apply
from streams.state_codec import dump_state
from streams.state_reader import changelog_topic, read_states, store_identity, unusable
from streams.store import MemoryStore, RocksStore, StoreIdentity, StoreLocked, open_read_only, store_path
from tests.processes import leadflow, wait_until
from tests.streams.test_recovery import ready, run_worker, store_dir
from tests.streams.test_worker import MODEL, events_processed, produce, view

CHUNKY = ["p_00", "p_01", "p_02"]  # more inputs than a head keeps: their histories go in chunks
PROSPECTS = CHUNKY + [f"p_{n:02d}" for n in range(3, 12)]


class Reads(list):
    """The changelog reads ``read_states`` opened, as (partitions, start offsets); ``beginnings`` overrides the
    first offsets the broker reports (what retention or compaction would have moved on)."""

    beginnings: dict[int, int]


@pytest.fixture
def reads(monkeypatch) -> Reads:
    seen = Reads()
    seen.beginnings = beginnings = {}

    class Recording(TopicReader):
        def __init__(self, config, topic, partitions=None, start=None) -> None:
            super().__init__(config, topic, partitions, start)
            seen.append((partitions, dict(start or {})))

        async def beginning_offsets(self) -> dict[int, int]:
            return {**await super().beginning_offsets(), **beginnings}

    monkeypatch.setattr(state_reader, "TopicReader", Recording)
    return seen


def same(config: Config, key: str | None = None) -> dict[str, bytes]:
    """The states the stores and the tail give, checked against the whole changelog's (as dumped: every field)."""
    found = {k: dump_state(s) for k, s in asyncio.run(read_states(config, key)).items()}
    assert found == {k: dump_state(s) for k, s in asyncio.run(read_states(config, key, source="changelog")).items()}
    return found


def store_offsets(config: Config) -> dict[int, int]:
    offsets = {}
    for partition in range(config.partitions):
        store = open_read_only(config, partition)
        if store is not None:
            offsets[partition] = store.offset()
            store.close()
    return offsets


def changelog_ends(config: Config) -> dict[int, int]:
    async def ends() -> dict[int, int]:
        async with TopicReader(config, changelog_topic(config)) as reader:
            return {tp.partition: end for tp, end in (await reader.end_offsets()).items()}
    return asyncio.run(ends())


def inputs(now: int, chunky: range, others: range) -> list[Interaction]:
    return [view(i, pid, "/steady" if i % 2 else "/fading", now + i)
            for pid in PROSPECTS for i in (chunky if pid in CHUNKY else others)]


@pytest.mark.integration
def test_stores_behind_the_changelog_plus_its_tail_give_the_changelogs_states(config, tmp_path, reads, caplog):
    (tmp_path / "model.yaml").write_text(MODEL.replace("half_life: 2s", "half_life: 30d"))
    env = {**config.as_env(), "LEADFLOW_MODEL": str(tmp_path / "model.yaml"), "LEADFLOW_TIMER_SECONDS": "3600"}
    now = time.time_ns() // 1_000_000
    first, second = inputs(now, range(36), range(2)), inputs(now, range(36, 42), range(2, 3))
    asyncio.run(produce(config, first))
    run_worker(config, env, tmp_path / "w1.log", len(first))
    kept = tmp_path / "stores-after-first"
    shutil.copytree(store_dir(config), kept)
    asyncio.run(produce(config, second))
    run_worker(config, env, tmp_path / "w2.log", len(second))
    shutil.rmtree(store_dir(config))
    shutil.copytree(kept, store_dir(config))  # the stores as of the first run: the changelog has more

    offsets, ends = store_offsets(config), changelog_ends(config)
    assert set(offsets) == {0, 1, 2} and all(0 < offsets[p] < ends[p] for p in offsets), (offsets, ends)
    del reads[:]
    states = same(config)
    (_, probed), (_, tail), _ = reads  # the probe, the tail from the stores' offsets, the whole changelog
    assert probed == {} and tail == offsets
    assert sorted(states) == PROSPECTS
    chunky = open_read_only(config, partition_of(b"p_00", config.partitions))
    try:
        in_store = state_chunks.load(chunky.get(b"p_00"), chunky.get)[0]
    finally:
        chunky.close()
    full = asyncio.run(read_states(config, "p_00"))["p_00"]
    assert len(in_store.history) == 36 and len(full.history) == 42  # the store's chunks and the tail's, together
    for pid in ["p_00", "p_01", "p_05"]:
        assert same(config, pid) == {pid: states[pid]}

    # Stores that are not copies of this changelog up to an offset it holds: the changelog alone, each named.
    foreign = RocksStore(store_path(config, 1), 1)
    foreign.reset(StoreIdentity("elsewhere.prospect-state", 3, 1, 5))
    records, _ = state_chunks.dump(b"p_foreign", ProspectState("p_foreign"), None)
    foreign.write(dict(records), {}, ends[1])
    foreign.close()
    past = RocksStore(store_path(config, 2), 2)
    past.write({}, {}, 10**9)
    past.close()
    reads.beginnings[0] = offsets[0] + 1
    del reads[:]
    with caplog.at_level(logging.DEBUG, logger="leadflow.state_reader"):
        assert same(config) == states
    assert [start for _, start in reads] == [{}, {}, {}]  # the probe, then every partition from its beginning
    logged = caplog.text
    assert "its topic is 'elsewhere.prospect-state'" in logged
    assert "past the changelog's end" in logged and f"no longer holds its offsets {offsets[0]}-{offsets[0]}" in logged

    del reads[:]
    assert same(config.with_changes(state_store="memory")) == states  # no store outside its worker: the changelog
    assert reads == [(None, {}), (None, {})]


@pytest.mark.integration
def test_the_stores_a_running_worker_holds_are_read_and_one_prospect_alone_is_decoded(config, tmp_path, reads,
                                                                                        monkeypatch):
    model_file = tmp_path / "model.yaml"
    model_file.write_text(MODEL.replace("half_life: 2s", "half_life: 30d"))
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(model_file.read_text().replace("version: worker-test", "version: stricter")
                        .replace("promote: 50", "promote: 90"))
    env = {**config.as_env(), "LEADFLOW_MODEL": str(model_file), "LEADFLOW_TIMER_SECONDS": "3600"}
    now = time.time_ns() // 1_000_000
    records = inputs(now, range(40), range(3))
    asyncio.run(produce(config, records))
    with leadflow(["worker"], env, tmp_path / "worker.log"):
        assert wait_until(lambda: ready(config) and events_processed(config) >= len(records) or None, 90)
        assert wait_until(lambda: complete(asyncio.run(read_states(config, source="changelog"))) or None, 30, 0.5)
        time.sleep(2)  # the last checkpoint's states reach the stores after the changelog
        for partition in range(config.partitions):
            with pytest.raises(StoreLocked):
                RocksStore(store_path(config, partition), partition)  # the worker holds every store
        offsets = store_offsets(config)
        del reads[:]
        states = same(config)
        assert sorted(states) == PROSPECTS and reads[1][1] == offsets and all(offsets.values())

        home = partition_of(b"p_00", config.partitions)
        decoded = []
        real_load = state_reader.load

        def counting_load(head, chunk):
            state = real_load(head, chunk)
            decoded.append(state[0].key)
            return state

        monkeypatch.setattr(state_reader, "load", counting_load)
        del reads[:]
        assert same(config, "p_00") == {"p_00": states["p_00"]}
        assert decoded == ["p_00", "p_00"]  # once from the store and the tail, once from the changelog alone
        assert reads == [([home], {}), ([home], {home: offsets[home]}), ([home], {})]

        def cli(*args: str, **extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "leadflow", *args], env={**os.environ, **env, **extra},
                                  capture_output=True, text=True, timeout=60)

        # The commands, in their own processes beside the worker: the same bytes as from the changelog alone.
        for args in (["explain", "p_00"], ["explain", "p_01", "--json"], ["rescore", "--model", str(stricter)]):
            from_stores = cli(*args, LEADFLOW_LOG_LEVEL="debug")
            alone = cli(*args, LEADFLOW_STATE_STORE="memory")
            assert from_stores.returncode == alone.returncode == 0, from_stores.stderr + alone.stderr
            assert from_stores.stdout == alone.stdout and from_stores.stdout
            assert "then the changelog from offset" in from_stores.stderr, from_stores.stderr[-3000:]


def complete(states: dict[str, ProspectState]) -> bool:
    return sorted(states) == PROSPECTS and all(len(s.history) == (40 if k in CHUNKY else 3) for k, s in states.items())


def test_a_store_is_used_only_as_a_copy_of_this_changelog_up_to_an_offset_it_still_holds():
    config = Config().with_changes(partitions=3)
    wanted = store_identity(config, 1)
    store = MemoryStore(1)
    store.reset(wanted)
    store.write({b"p": b"{}"}, {}, 40)
    assert unusable(store, wanted, 0, 40) is None and unusable(store, wanted, 40, 90) is None
    assert unusable(store, wanted, 41, 90) == "the changelog no longer holds its offsets 40-40"
    assert unusable(store, wanted, 0, 39) == "it holds changelog offsets up to 40, past the changelog's end 39"
    assert unusable(store, store_identity(config.with_changes(partitions=6), 1), 0, 90) == "its partitions is 3, not 6"
    assert unusable(MemoryStore(1), wanted, 0, 90) == "it has no identity (not written by a leadflow worker)"


CHUNK_MODEL = parse_model("""\
version: reader-test
thresholds: {promote: 1000, demote: 500}
rules:
  - {id: view, when: {type: page.viewed}, points: 1}
""")


def test_the_tail_over_a_store_is_the_changelog_and_one_key_decodes_alone():
    """Without a broker: a store as of one checkpoint, the records written after it (a new head, new chunks,
    tombstones of replaced ones, a deleted prospect, the end marker): merged, they load to the newest states."""
    changelog: list[tuple[bytes, bytes | None]] = []
    states = {key: ProspectState(key.decode()) for key in (b"p_long", b"p_short", b"p_gone")}
    written: dict = {}
    for n in range(80):
        for key, state in states.items():
            if key != b"p_short" or n < 3:
                apply(state, view(n, key.decode(), "/x", 1_000 + n), CHUNK_MODEL)
        if n in (39, 79):
            for key, state in states.items():
                records, written[key] = state_chunks.dump(key, state, written.get(key))
                changelog += records
        if n == 39:
            cut = len(changelog)  # the store's offset
    changelog += [(b"p_gone", None), (state_reader.END_MARKER, None)]
    store = MemoryStore(0)
    store.write(dict(changelog[:cut]), {}, cut)
    tail = dict(changelog[cut:])
    del tail[state_reader.END_MARKER]
    whole = dict(changelog)
    expected = {k.decode(): dump_state(s) for k, s in states.items() if k != b"p_gone"}

    every = {**dict(store.items()), **tail}
    assert {k: dump_state(s) for k, s in state_reader._decode(every, lambda _: None, None).items()} == expected
    only = {k: v for k, v in tail.items() if state_chunks.prospect_of(k) == b"p_long"}
    assert any(state_chunks.is_chunk(k) and v is None for k, v in only.items())  # a replaced chunk's tombstone
    one = state_reader._decode(only, store.get, b"p_long")
    assert {k: dump_state(s) for k, s in one.items()} == {"p_long": expected["p_long"]}
    assert state_reader._decode({}, store.get, b"p_short")["p_short"].history == states[b"p_short"].history
    assert state_reader._decode({b"p_gone": None}, store.get, b"p_gone") == {}
    assert {k: dump_state(s) for k, s in state_reader._decode(whole, lambda _: None, None).items()} == expected
