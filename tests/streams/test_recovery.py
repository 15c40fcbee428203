"""Restarts on the real broker with the local stores: a restarted worker reads only the changelog's tail, a
store that is not a copy of this changelog is rebuilt from it, and either way the scores are the same."""

import asyncio
import re
import shutil
import time
import urllib.request

import pytest

from leadflow.config import Config
from streams.core.model import parse_model
from streams.core.prospect import ProspectState, apply, scores
from streams.state_chunks import is_chunk, load
from streams.state_reader import changelog_topic, read_states, store_identity
from streams.store import RocksStore, StoreIdentity
from tests.processes import leadflow, wait_until
from tests.streams.test_worker import MODEL, events_processed, produce, view

pytestmark = pytest.mark.integration
RECOVERED = re.compile(r"recovered partitions \[([\d, ]+)\]: (\d+) changelog records read(?: \(rebuilt: \[([\d, ]*)\]\))?")


def run_worker(config: Config, env: dict, log, expect: int) -> dict:
    """A worker until it has processed ``expect`` inputs, stopped cleanly; what its recovery said."""
    with leadflow(["worker"], env, log):
        assert wait_until(lambda: ready(config) and events_processed(config) >= expect or None, 90), \
            log.read_text()[-3000:]
    lines = RECOVERED.findall(log.read_text())
    assert lines, log.read_text()[-3000:]
    partitions, records, rebuilt = lines[-1]
    return {"records": int(records), "rebuilt": sorted(int(p) for p in rebuilt.split(",") if p.strip())}


def ready(config: Config) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{config.worker_metrics_port}/metrics", timeout=5) as page:
            return "leadflow_worker_ready 1.0" in page.read().decode()
    except OSError:
        return False


def store_dir(config: Config):
    return config.state_dir / config.topic_prefix


def test_a_restart_reads_only_the_tail_and_a_foreign_store_is_rebuilt(config, tmp_path):
    model_text = MODEL.replace("half_life: 2s", "half_life: 30d")
    (tmp_path / "model.yaml").write_text(model_text)
    env = {**config.as_env(), "LEADFLOW_MODEL": str(tmp_path / "model.yaml"), "LEADFLOW_TIMER_SECONDS": "3600"}
    now = time.time_ns() // 1_000_000
    prospects = [f"p_{n:02d}" for n in range(30)]
    first = [view(i, pid, "/steady" if i % 2 else "/fading", now + i) for i in range(4) for pid in prospects]
    second = [view(i, pid, "/steady", now + i) for i in range(4, 6) for pid in prospects[:10]]

    asyncio.run(produce(config, first))
    started = run_worker(config, env, tmp_path / "w1.log", len(first))
    assert started == {"records": 0, "rebuilt": [0, 1, 2]}  # new stores, an empty changelog
    kept = tmp_path / "stores-after-first"
    shutil.copytree(store_dir(config), kept)

    again = run_worker(config, env, tmp_path / "w2.log", 0)  # nothing new: nothing to read
    assert again == {"records": 0, "rebuilt": []}

    asyncio.run(produce(config, second))
    run_worker(config, env, tmp_path / "w3.log", len(second))
    # Back to the stores as of the first run: the next worker reads what the third wrote since, and no more.
    shutil.rmtree(store_dir(config))
    shutil.copytree(kept, store_dir(config))
    # Partition 1's store now says it belongs to another deployment.
    foreign = RocksStore(store_dir(config) / "partition-1", 1)
    foreign.reset(StoreIdentity("elsewhere.prospect-state", 3, 1, 5))
    foreign.close()
    # Partition 0's store says the previous state format wrote it: read as it is, not rebuilt.
    older = RocksStore(store_dir(config) / "partition-0", 0)
    older.claim(StoreIdentity(changelog_topic(config), 3, 0, 6))
    older.close()
    tail = run_worker(config, env, tmp_path / "w4.log", 0)
    log = (tmp_path / "w4.log").read_text()
    assert "partition 1: the local state store" in log and "its topic is 'elsewhere.prospect-state'" in log
    assert "partition 0: the local state store" in log and "holds states of format 6" in log
    assert tail["rebuilt"] == [1]
    assert 0 < tail["records"] < len(first) + len(second)

    model = parse_model(model_text)
    states = asyncio.run(read_states(config))
    for partition in range(3):  # each store holds what the changelog holds
        store = RocksStore(store_dir(config) / f"partition-{partition}", partition)
        try:
            assert store.identity() == store_identity(config, partition)  # partition 0's claimed for this format
            contents = dict(store.items())  # heads, and the chunks they name
            for key, value in contents.items():
                if not is_chunk(key):
                    assert load(value, contents.get)[0].history == states[key.decode()].history
        finally:
            store.close()
    for pid in prospects:
        reference = ProspectState(pid)
        for record in first + second:
            if record.prospect_key == pid:
                reference = apply(reference, record, model).state
        assert scores(states[pid], model).total == pytest.approx(scores(reference, model).total), pid


def test_a_new_broker_gets_its_changelog_back_from_the_local_stores(config, tmp_path):
    """What `leadflow up` does across restarts: the embedded broker keeps nothing, so the worker writes its
    stores back to the new, empty changelog; the scores go on where they stopped."""
    from leadflow.embedded.broker import EmbeddedBroker
    from leadflow.topics import create_topics
    from leadflow.process import free_ports

    (tmp_path / "model.yaml").write_text(MODEL.replace("half_life: 2s", "half_life: 30d"))
    env = {**config.as_env(), "LEADFLOW_MODEL": str(tmp_path / "model.yaml"), "LEADFLOW_TIMER_SECONDS": "3600",
           "LEADFLOW_KAFKA_RESEED_CHANGELOG": "true"}
    now = time.time_ns() // 1_000_000
    prospects = [f"p_{n:02d}" for n in range(12)]
    asyncio.run(produce(config, [view(0, pid, "/steady", now) for pid in prospects]))
    run_worker(config, env, tmp_path / "w1.log", len(prospects))
    before = asyncio.run(read_states(config))

    broker = EmbeddedBroker("127.0.0.1", free_ports(1)[0], tmp_path / "broker-2.log")
    try:
        fresh = config.with_changes(bootstrap=broker.start())
        create_topics(fresh)
        env = {**fresh.as_env(), **{k: env[k] for k in ("LEADFLOW_MODEL", "LEADFLOW_TIMER_SECONDS",
                                                           "LEADFLOW_KAFKA_RESEED_CHANGELOG")}}
        reseeded = run_worker(fresh, env, tmp_path / "w2.log", 0)
        assert "changelog re-seeded: [0, 1, 2]" in (tmp_path / "w2.log").read_text()
        assert reseeded["records"] == 0
        assert {k: s.history for k, s in asyncio.run(read_states(fresh)).items()} == \
            {k: s.history for k, s in before.items()}
        asyncio.run(produce(fresh, [view(1, pid, "/fading", now + 1) for pid in prospects]))  # one more view each
        run_worker(fresh, env, tmp_path / "w3.log", len(prospects))
        after = asyncio.run(read_states(fresh))
        assert {pid: (len(after[pid].history), after[pid].stage) for pid in prospects} == \
            {pid: (2, "lead") for pid in prospects}  # 30 + 30 points: promoted
    finally:
        broker.stop()


def test_a_corrupt_store_is_named_removed_and_rebuilt_from_the_changelog(config, tmp_path):
    (tmp_path / "model.yaml").write_text(MODEL.replace("half_life: 2s", "half_life: 30d"))
    env = {**config.as_env(), "LEADFLOW_MODEL": str(tmp_path / "model.yaml"), "LEADFLOW_TIMER_SECONDS": "3600"}
    now = time.time_ns() // 1_000_000
    prospects = [f"p_{n:02d}" for n in range(12)]
    records = [view(i, pid, "/steady", now + i) for i in range(2) for pid in prospects]
    asyncio.run(produce(config, records))
    run_worker(config, env, tmp_path / "w1.log", len(records))
    before = asyncio.run(read_states(config))
    for path in (store_dir(config) / "partition-2").iterdir():  # every file of partition 2's store overwritten
        if path.is_file():
            path.write_bytes(b"not a database")
    again = run_worker(config, env, tmp_path / "w2.log", 0)
    log = (tmp_path / "w2.log").read_text()
    assert "partition 2: cannot open the state store" in log and "rebuilding it from the changelog" in log, log
    assert again["rebuilt"] == [2] and again["records"] > 0
    store = RocksStore(store_dir(config) / "partition-2", 2)
    try:
        contents = dict(store.items())
        heads = {key.decode(): load(value, contents.get)[0] for key, value in contents.items() if not is_chunk(key)}
    finally:
        store.close()
    assert heads and all(heads[key].history == before[key].history for key in heads)
