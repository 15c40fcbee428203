"""The worker's copy-on-write checkpoint: the store serializes the noted states a slice at a time while batches
go on, and a batch serializes a state it is about to change first, so the changelog gets every state as of the
checkpoint's offsets (no broker: the producer and the consumer are stand-ins)."""

import asyncio

from leadflow.config import DEFAULT_AUTOMATIONS, Config
from schemas.codec import Codec
from schemas.records import Interaction
from streams import worker as worker_module
from streams.core.automation_index import load_engine
from streams.core.model import load_model
from streams.state_chunks import is_chunk, load
from streams.state_codec import dump_state
from streams.worker import SNAPSHOT_SLICE, Worker


class Consumer:
    def __init__(self) -> None:
        self.committed: list[dict] = []

    def assignment(self) -> set:
        return set()

    async def commit(self, offsets: dict) -> None:
        self.committed.append(offsets)


def view(n: int, key: bytes, at: int) -> Interaction:
    pid = key.decode()
    return Interaction(event_id=f"{pid}-{n}", prospect_key=pid, prospect_id=pid, email=pid, type="page.viewed",
                       occurred_at=at, received_at=at, source="test", url="https://a.io/pricing")


def test_a_checkpoint_stores_the_states_as_of_its_offsets_while_the_next_batches_change_them(monkeypatch):
    model = load_model(Config().model_path)
    worker = Worker(Config(), model, Codec(), load_engine(DEFAULT_AUTOMATIONS, model))
    sent: list = []

    async def send_batched(producer, records):
        sent.extend(r for r in records if r.topic == worker.table.topic)
        await asyncio.sleep(0)
        return {}

    monkeypatch.setattr(worker_module, "send_batched", send_batched)
    worker._consumer, worker._producer, worker._changelog = Consumer(), None, None
    keys = [f"p{i}@example.com".encode() for i in range(3 * SNAPSHOT_SLICE)]

    async def scenario() -> tuple[dict, dict]:
        first = worker._new_batch()
        for n, key in enumerate(keys):
            first.add(key, 0, view(n, key, 1_000 + n))
        await worker._complete(first)
        at_checkpoint = {key: dump_state(worker.table.states[key]) for key in keys}
        await worker._checkpoint()  # notes the states; its store serializes them from the next await on
        after = worker._new_batch()
        changed = [keys[0], keys[SNAPSHOT_SLICE + 1], keys[-1]]  # before, during and after the store's slices
        for n, key in enumerate(changed):
            after.add(key, 0, view(10_000 + n, key, 5_000 + n))
            await asyncio.sleep(0)
        await worker._complete(after)
        await worker._stored()
        assert {key: dump_state(worker.table.states[key]) for key in changed} != \
            {key: at_checkpoint[key] for key in changed}
        return at_checkpoint, dict(worker._dirty)

    at_checkpoint, dirty = asyncio.run(scenario())
    written = {record.key: record.value for record in sent}  # heads and the chunks they name
    assert {key: dump_state(load(written[key], written.get)[0]) for key in keys} == at_checkpoint
    assert {record.key for record in sent if not is_chunk(record.key)} == set(keys)
    assert set(dirty) == {keys[0], keys[SNAPSHOT_SLICE + 1], keys[-1]}  # for the next checkpoint


def test_a_store_that_cannot_be_written_stops_the_checkpoint_before_the_commit(monkeypatch, tmp_path):
    """A full disk: the changelog has the states, the local store does not, so the inputs stay uncommitted and
    the worker stops with the store's path (a restart reads the changelog's tail into the store)."""
    import pytest

    from streams.store import MemoryStore, StoreError

    class FullDisk(MemoryStore):
        def write(self, *args, **kwargs):
            raise StoreError(f"cannot write the state store {tmp_path}/p0: IO error: No space left on device")

    model = load_model(Config().model_path)
    worker = Worker(Config(), model, Codec())
    consumer = Consumer()

    async def send_batched(producer, records):
        return {(worker.table.topic, 0): 41}

    monkeypatch.setattr(worker_module, "send_batched", send_batched)
    worker._consumer, worker._producer, worker._changelog = consumer, None, None
    worker.table.stores[0] = FullDisk(0)

    async def scenario() -> None:
        batch = worker._new_batch()
        batch.add(b"p@example.com", 0, view(0, b"p@example.com", 1_000))
        await worker._complete(batch)
        worker._uncommitted[object()] = 7  # an input offset waiting for this checkpoint
        consumer.assignment = lambda: set(worker._uncommitted)
        await worker._checkpoint(wait=True)

    with pytest.raises(StoreError, match="No space left on device"):
        asyncio.run(scenario())
    assert consumer.committed == []
