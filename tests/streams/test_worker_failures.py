"""The worker's store and changelog under failure, on the real broker: killed during checkpoints, interrupted during
recovery, two workers rebalancing under load. Each ends with the scores an uninterrupted run gives, every input
applied once, and one promotion per prospect (a replay repeats a lead event with its id, never a new one)."""

import asyncio
import os
import signal
import threading
import time

import pytest

from leadflow.kafka import send_batched
from leadflow.topic_reader import TopicReader
from streams.core.model import parse_model
from streams.core.prospect import ProspectState, apply, scores
from streams import state_chunks
from streams.state_reader import read_latest, read_states
from streams.table import ProspectTable
from tests.processes import leadflow, wait_until
from tests.streams.test_recovery import ready
from tests.streams.test_worker import MODEL, events_processed, produce, view
from tests.topic_reader import read_topic

pytestmark = pytest.mark.integration
STEADY_MODEL = MODEL.replace("half_life: 2s", "half_life: 30d")


def reference(records, model_text):
    model = parse_model(model_text)
    states: dict[str, ProspectState] = {}
    for record in records:
        states[record.prospect_key] = apply(states.get(record.prospect_key) or ProspectState(record.prospect_key),
                                            record, model).state
    return model, states


def settled(config, expected: dict[str, int]) -> dict | None:
    """The changelog's states once every prospect holds its expected number of inputs, else None."""
    states = asyncio.run(read_states(config))
    if all(key in states and len(states[key].history) == count for key, count in expected.items()):
        return states
    return None


def assert_same_as_uninterrupted(config, records, tmp_path, states) -> None:
    model, expected = reference(records, STEADY_MODEL)
    for key, state in expected.items():
        assert [i.event_id for i in states[key].history] == [i.event_id for i in state.history], key
        assert scores(states[key], model).total == pytest.approx(scores(state, model).total), key
        assert states[key].stage == state.stage
    leads = [e for _, e in asyncio.run(read_topic(config, "leads", len(expected), timeout_s=30))]
    promotions: dict[str, set[str]] = {}
    for event in leads:
        if event.type == "lead.promoted":
            promotions.setdefault(event.prospect_id, set()).add(event.event_id)
    assert promotions == {key: promotions.get(key) for key in expected} and \
        all(len(ids) == 1 for ids in promotions.values()), promotions


def scenario(config, tmp_path, batch: int, checkpoint_ms: int, prospects: int) -> tuple[dict, list[str], list]:
    """A worker's settings (the steady model, no timers) and the inputs: every prospect views ``prospects`` pages."""
    (tmp_path / "model.yaml").write_text(STEADY_MODEL)
    env = {**config.as_env(), "LEADFLOW_MODEL": str(tmp_path / "model.yaml"), "LEADFLOW_TIMER_SECONDS": "3600",
           "LEADFLOW_WORKER_BATCH_SIZE": str(batch), "LEADFLOW_WORKER_CHECKPOINT_MS": str(checkpoint_ms)}
    now = time.time_ns() // 1_000_000
    keys = [f"p_{n:02d}" for n in range(prospects)]
    return env, keys, [view(i, pid, "/steady" if i % 2 else "/fading", now + i) for i in range(prospects)
                       for pid in keys]


def test_killed_during_checkpoints_again_and_again_the_scores_are_an_uninterrupted_runs(config, tmp_path):
    # Checkpoints every 20 ms in batches of 20 inputs: a kill -9 almost always lands during one.
    env, prospects, records = scenario(config, tmp_path, batch=20, checkpoint_ms=20, prospects=30)
    for attempt in range(3):  # a wave of 300 new inputs before each worker, so each has work when it is killed
        asyncio.run(produce(config, records[300 * attempt:300 * (attempt + 1)]))
        with leadflow(["worker"], env, tmp_path / f"worker-{attempt}.log") as worker:
            assert wait_until(lambda: events_processed(config) >= 150 or None, 60, interval_s=0.02)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
    with leadflow(["worker"], env, tmp_path / "worker-last.log"):
        states = wait_until(lambda: settled(config, {pid: 30 for pid in prospects}), 90, interval_s=1)
    assert states, "the last worker did not catch up"
    assert_same_as_uninterrupted(config, records, tmp_path, states)


def test_a_recovery_cut_short_leaves_a_store_the_next_one_completes(config, monkeypatch):
    """A worker that dies while it reads the changelog into its stores: the stores say how far they got, and the
    next recovery reads on from there to the same contents as the changelog."""
    table = ProspectTable(config)
    keys = [f"p_{n:03d}".encode() for n in range(300)]  # new prospects: a head each, no chunks yet
    states = {key: (table.partition_of(key), state_chunks.dump(key, ProspectState(key.decode()), None)[0])
              for key in keys}

    async def fill() -> None:
        from leadflow.kafka import new_producer
        producer = new_producer(config)
        await producer.start()
        try:
            for group in table.groups(states):
                await send_batched(producer, group)
            cut = ProspectTable(config)
            real = TopicReader.up_to

            async def dies_after_fifty(self, ends):
                async for records in real(self, ends):
                    yield records[:50]
                    raise ConnectionError("killed mid-recovery")

            monkeypatch.setattr(TopicReader, "up_to", dies_after_fifty)
            with pytest.raises(ConnectionError):
                await cut.recover({0, 1, 2}, producer)
            cut.close()
            monkeypatch.undo()
            table_again = ProspectTable(config)
            found = await table_again.recover({0, 1, 2}, producer)
            # on from where the first one stopped: the rest of the states, and the first recovery's end markers
            assert found.records == 300 - 50 + 3
            latest = await read_latest(config)
            for partition, store in table_again.stores.items():
                assert dict(store.items()) == {k: v for k, v in latest.items()
                                               if v is not None and table.partition_of(k) == partition}
            table_again.close()
        finally:
            await producer.stop()

    asyncio.run(fill())


def test_two_workers_rebalancing_under_load_lose_and_duplicate_nothing(config, tmp_path):
    env, prospects, records = scenario(config, tmp_path, batch=50, checkpoint_ms=200, prospects=40)
    waves = [records[n::4] for n in range(4)]  # every wave touches every prospect
    stop = threading.Event()

    def keep_producing() -> None:  # the load: waves 2-4 arrive while the group rebalances
        for wave in waves[1:]:
            for start in range(0, len(wave), 40):
                if stop.is_set():
                    return
                asyncio.run(produce(config, wave[start:start + 40]))
                time.sleep(0.05)

    asyncio.run(produce(config, waves[0]))
    load = threading.Thread(target=keep_producing)
    with leadflow(["worker"], env, tmp_path / "worker-a.log") as first:
        assert wait_until(lambda: events_processed(config) >= 100 or None, 60)
        load.start()
        second_env = {**env, "LEADFLOW_WORKER_METRICS_PORT": "0"}
        with leadflow(["worker"], second_env, tmp_path / "worker-b.log"):
            time.sleep(6)  # B joins: the partitions are shared between A and B
            first.send_signal(signal.SIGTERM)  # A leaves: B takes them all
            first.wait(30)
            load.join(120)
            states = wait_until(lambda: settled(config, {pid: 40 for pid in prospects}), 120, interval_s=1)
    stop.set()
    assert states, "the workers did not catch up"
    log_b = (tmp_path / "worker-b.log").read_text()
    assert log_b.count("recovered partitions") >= 2, log_b[-2000:]  # some partitions when it joined, the rest after
    assert_same_as_uninterrupted(config, records, tmp_path, states)
