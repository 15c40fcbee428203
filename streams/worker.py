"""`leadflow worker`: fetch a batch of inputs -> core -> send the outputs; every checkpoint, store the changed
states, then commit the inputs.

Inputs (interactions, CRM verdicts, identity merges) are all keyed by prospect with the
same partitioner, and the range assignor hands a worker the same partitions of each, so
one consumer loop sees every input of a prospect in order and no repartition is needed.

At-least-once: a batch's outputs are acknowledged by the broker before the next batch
starts; its states and input offsets wait for the checkpoint (``LEADFLOW_WORKER_CHECKPOINT_MS``,
and before partitions are handed over or the worker stops), so a hot prospect's state is
written once per checkpoint rather than once per batch. A checkpoint snapshots (serializes
the changed states, notes the offsets they reflect), then stores the snapshot and commits
those offsets in the background on a producer of its own, while the next batches are
scored: the scoring pauses only for the snapshot, and lead events never queue behind
megabytes of states. A crash replays the inputs since the last committed checkpoint onto
the states of that checkpoint: the core is deterministic, so the outputs repeat with the
same event ids, and the sink's upserts absorb them.

This shell is plain aiokafka rather than Faust: Faust delivers each record through its
conductor, channel and stream machinery, which capped a bare Faust agent that only
decodes at 5,600 records/s on the reference machine (a plain consumer: 36,000), below the
worker's 10,000 events/s target before any scoring; and a restarted Faust worker skipped
records when its table recovery completed. The table (``streams.table``), the decay
timer and the HTTP side are each a few dozen lines here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from typing import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from leadflow.config import Config
from leadflow.consumer_lag import LagGauge
from leadflow.kafka import new_consumer, new_producer, send_batched
from leadflow.stage import Failure, Inputs, Stage
from schemas.codec import Codec
from schemas.records import DeadLetter, Interaction
from streams import metrics
from streams.batch import TICK_TYPE, Batch, Record, Topics, WorkerInput, to_input
from streams.core.model import ScoringModel
from streams.core.automation_index import Engine
from streams.core.automation_state import ProgramChange
from streams.gc_policy import Freezer, settle_long_lived_objects
from streams.table import Dumped, ProspectTable, keys_of, read_timer, timer_entry
from streams.web import start_web

log = logging.getLogger("leadflow.worker")
Decoded = tuple[bytes, str, WorkerInput] | None  # to_input's: (prospect key, kind, core input), None if no concern
IDLE_POLL_MS = 500
RETICK_MS = 10_000  # a prospect ticked but not processed since is ticked again after this
NO_INTERACTION = 2**63  # a batch of verdicts and merges only: no scoring latency to observe
SNAPSHOT_SLICE = 64  # states a checkpoint serializes before letting a batch in (~5 ms of the reference machine's)
LOOK_SLICE = 10_000  # recovered prospects looked at (model, timers) between two trims of the cache


class Worker(ConsumerRebalanceListener):
    def __init__(self, config: Config, model: ScoringModel, codec: Codec, engine: Engine | None = None) -> None:
        self._config = config
        self._model = model
        self._codec = codec
        self.topics = Topics(config.topic("interactions"), config.topic("identity"), config.topic("leads"),
                             config.topic("sla"), config.topic("actions"))
        self._engine = engine
        self.table = ProspectTable(config)
        self.due: dict[bytes, int] = {}  # prospects with a timer to come (timers.next_due), and when
        self._ticked: dict[bytes, int] = {}  # prospects ticked and not processed since: the due time ticked for
        self.clocks: dict[bytes, str] = {}  # prospects whose clock waits for a first response: its status
        self._producer: AIOKafkaProducer
        self._changelog: AIOKafkaProducer  # the checkpoints' own, so lead events never wait behind states
        self._consumer: AIOKafkaConsumer
        self._lock = asyncio.Lock()  # one batch, checkpoint or rebalance step at a time
        self._dirty: dict[bytes, int] = {}  # states changed since the last checkpoint: key -> partition
        self._uncommitted: dict[TopicPartition, int] = {}
        self._checkpoint_due = 0.0
        self._storing: asyncio.Task | None = None  # the last checkpoint's store and commit
        # The states the checkpoint in flight has still to serialize (key -> partition), and those it has: its
        # store serializes them a slice at a time while batches go on, and a batch about to change one of them
        # serializes it first (_keep), so the checkpoint holds every state as of its offsets.
        self._unsnapped: dict[bytes, int] = {}
        self._snapped: Dumped = {}
        self._lag = LagGauge(f"{config.topic_prefix}-worker")
        self._freezer = Freezer()
        self.ready = False  # partitions held, their states recovered

    async def run(self, stop: asyncio.Event) -> None:
        config = self._config
        metrics.start_at_zero()
        inputs = (self.topics.interactions, config.topic("crm-feedback"), self.topics.identity)
        self._producer = new_producer(config)
        self._changelog = new_producer(config)
        self._consumer = new_consumer(config, self._lag.group, max_poll_records=config.worker_batch_size,
                                      partition_assignment_strategy=(RangePartitionAssignor,))
        # The shared stage fetches, decodes, dead-letters what no schema wrote and hands each batch to _process;
        # the offsets wait for the checkpoint, after the states they reflect are stored.
        stage: Stage[Decoded] = Stage(
            self._consumer, self._producer, self._codec, dlq_topic=config.topic("sink-dlq"), target="worker",
            decode=lambda value: to_input(self._codec.decode(value), self._codec), handle=self._process,
            on_dead_lettered=_undecodable, batch_size=config.worker_batch_size,
            batch_wait_ms=config.worker_batch_wait_ms, poll_ms=IDLE_POLL_MS,
            defer_commit=lambda offsets: self._uncommitted.update(offsets),
            holds=lambda tp: tp.partition in self.table.stores)
        await self._producer.start()
        await self._changelog.start()
        self._consumer.subscribe(inputs, listener=self)
        await self._consumer.start()
        web = await start_web(self._config, self.table, self._model, lambda: self.ready)
        if self._engine is not None:
            metrics.start_programs_at_zero(self._engine.programs)
        timers = [asyncio.create_task(self._every(config.timer_s, stop, self._due_now))]

        async def between_batches() -> None:  # under the lock, after every fetch
            await self._lag.refresh(self._consumer)
            if time.monotonic() >= self._checkpoint_due:
                await self._checkpoint()

        try:
            await stage.run(stop, guard=self._lock, between=between_batches)
            async with self._lock:
                await self._checkpoint(wait=True)
        finally:
            for timer in timers:
                timer.cancel()
            if self._storing is not None:
                self._storing.cancel()
            if web is not None:
                await web.cleanup()
            await self._consumer.stop()
            await self._producer.stop()
            await self._changelog.stop()
            self.table.close()

    async def _process(self, inputs: Inputs[Decoded], stop: asyncio.Event) -> list[Failure]:
        """Score a batch and deliver its outputs, acknowledged; the stage then releases its offsets to
        ``_uncommitted`` (after dead-lettering what it could not decode)."""
        batch, kinds = self._new_batch(), Counter[str]()
        oldest = NO_INTERACTION
        for record, decoded in inputs.decoded:
            if decoded is not None:
                key, kind, item = decoded
                batch.add(key, record.partition, item)
                kinds[kind] += 1
                if type(item) is Interaction and item.received_at < oldest:
                    oldest = item.received_at
        await self._complete(batch)
        self._follow(batch, batch.changed)
        _observe(batch, kinds, oldest)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - inputs.started)
        metrics.BATCH_SIZE.observe(inputs.size)
        return []  # the core refuses no input: only undecodable records are dead letters

    async def _complete(self, batch: Batch) -> None:
        """The batch's outputs, acknowledged; its changed states wait for the checkpoint."""
        await self._deliver(batch.finish())
        self._dirty.update(batch.changed)

    async def _checkpoint(self, wait: bool = False) -> None:
        """Snapshot the changed states and the offsets of the inputs they reflect; store the states, acknowledged,
        then commit the offsets: the order at-least-once rests on. The store runs in the background unless
        ``wait``; a checkpoint first waits for the previous one, so a prospect's states reach the changelog in
        order, and a failed store stops the worker here.

        The snapshot is copy-on-write: the checkpoint only notes which states it holds; its store serializes
        them a slice at a time while the next batches are scored, and a batch serializes a state it is about to
        change first. Serializing ~2,000 states at once paused scoring for 80-150 ms every second."""
        await self._stored()
        started = time.perf_counter()
        self._unsnapped, self._snapped = self._dirty, {}
        metrics.STATES_WRITTEN.inc(len(self._dirty))
        self._dirty = {}
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in self._uncommitted.items() if tp in assigned}
        self._uncommitted.clear()
        self._checkpoint_due = time.monotonic() + self._config.worker_checkpoint_ms / 1000
        metrics.CHECKPOINT_PAUSE_SECONDS.observe(time.perf_counter() - started)
        self._storing = asyncio.create_task(self._store(offsets, started), name="checkpoint")
        if wait:
            await self._stored()

    def _keep(self, key: bytes) -> None:
        """A batch is about to change this prospect's state: if the checkpoint in flight has not serialized it
        yet, it does now."""
        if key in self._unsnapped:
            self._snapped[key] = (self._unsnapped.pop(key), self.table.dump(key))

    async def _stored(self) -> None:
        if self._storing is not None:
            storing, self._storing = self._storing, None
            await storing

    async def _store(self, offsets: dict[TopicPartition, int], started: float) -> None:
        unsnapped, snapped, table = self._unsnapped, self._snapped, self.table
        while unsnapped:
            for key in list(itertools.islice(unsnapped, SNAPSHOT_SLICE)):
                snapped[key] = (unsnapped.pop(key), table.dump(key))
            await asyncio.sleep(0)  # a batch scored meanwhile serializes what it changes first (_keep)
        metrics.CHANGELOG_BYTES.inc(sum(len(subkey) + len(value or b"") for _, records in snapped.values()
                                        for subkey, value in records))
        reached: dict[tuple[str, int], int] = {}
        for group in self.table.groups(snapped):
            reached.update(await send_batched(self._changelog, group))
        # then the local stores, with the changelog offsets they reach; a store that cannot be written (a full
        # disk) stops the worker here, before the inputs are committed
        self.table.save(snapped, {key: timer_entry(self.due.get(key), self.clocks.get(key)) for key in snapped},
                        reached)
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except CommitFailedError:
                log.warning("the group rebalanced before this checkpoint's commit: the partitions' new owners read "
                            "those inputs again and find them already applied")
        metrics.CHECKPOINT_SECONDS.observe(time.perf_counter() - started)
        metrics.STATES_EVICTED.inc(self.table.trim(pinned=self._dirty))
        metrics.STATES_READ.inc(self.table.states.reads())
        self._freezer.after_checkpoint()
        metrics.STATES_CACHED.set(len(self.table.states))

    async def _deliver(self, records: list[Record]) -> None:
        await send_batched(self._producer, records)

    def _new_batch(self) -> Batch:
        return Batch(self._model, self._codec, self.topics, self.table.states,
                     on_lead_event=lambda kind: metrics.LEAD_EVENTS.labels(kind).inc(),
                     on_sla_step=lambda kind: metrics.SLA_STEPS.labels(kind).inc(),
                     on_first_response=metrics.SLA_FIRST_RESPONSE_SECONDS.observe, engine=self._engine,
                     on_action=lambda type_: metrics.AUTOMATION_ACTIONS.labels(type_).inc(),
                     on_program=_program_metrics,
                     on_suppressed=lambda reason: metrics.AUTOMATION_SUPPRESSED.labels(reason).inc(),
                     before_change=self._keep)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stores what the worker holds before another worker recovers it."""
        async with self._lock:
            self._set_ready(False)
            await self._checkpoint(wait=True)
            self._release({tp.partition for tp in revoked} & self.table.partitions)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._lock:
            await self.take_over({tp.partition for tp in assigned})

    async def take_over(self, partitions: set[int]) -> None:
        """Forget the partitions handed over; recover the new ones (their stores, then the changelog's tail),
        recompute states scored under another model (a new model was deployed), follow their leads and clocks,
        and let the GC stop rescanning them."""
        table = self.table
        self._release(table.partitions - partitions)
        new = partitions - table.partitions
        found = await table.recover(new, self._changelog)
        if new:
            log.info("recovered partitions %s: %d changelog records read%s%s in %.2fs", sorted(new), found.records,
                     f" (rebuilt: {sorted(found.rebuilt)})" if found.rebuilt else "",
                     f" (changelog re-seeded: {sorted(found.reseeded)})" if found.reseeded else "", found.seconds)
        metrics.RECOVERY_SECONDS.observe(found.seconds)
        model = self._model.version.encode()
        whole = {p for p in new if table.stores[p].meta("model") != model}  # every state looked at again
        look = [key for key in found.tail_keys if table.partition_of(key) not in whole and table.holds(key)]
        look += [key for p in sorted(whole) for key in table.keys(p)]
        for partition in new - whole:  # the others' timers and clocks come from the stores' timer index
            for key, entry in table.stores[partition].timers():
                due, clock = read_timer(entry)
                if due is not None:
                    self.due[key] = due
                if clock is not None:
                    self._clock_status(key, clock)
        rescored = 0
        for start in range(0, len(look), LOOK_SLICE):  # a slice at a time, so the cache stays bounded
            keys, batch = look[start:start + LOOK_SLICE], self._new_batch()
            for key in keys:
                if batch.rescore_if_stale(key, table.partition_of(key)):
                    metrics.RESCORED.inc()
            self._follow(batch, keys)  # the partitions kept are followed batch by batch already
            if batch.changed:
                rescored += len(batch.changed)
                await self._complete(batch)
                await self._checkpoint(wait=True)
            table.index({key: timer_entry(self.due.get(key), self.clocks.get(key)) for key in keys})
            metrics.STATES_EVICTED.inc(table.trim(pinned=self._dirty))
        if rescored:
            log.info("rescored %d prospects under model %s", rescored, self._model.version)
        for partition in whole:  # every state is under this model now, in the changelog and the store
            table.stores[partition].write({}, {}, None, {"model": model})
        settle_long_lived_objects()
        metrics.ASSIGNED_PARTITIONS.set(len(partitions))
        metrics.STATES_CACHED.set(len(table.states))
        self._set_ready(True)

    def _release(self, partitions: set[int]) -> None:
        """Partitions handed over (their states stored): their timers and clocks are the next owner's, their stores
        close, kept on disk (the next owner on this machine opens them; a partition that comes back reads only
        what changed meanwhile)."""
        for key in keys_of(partitions, self.table, [*self.due, *self._ticked, *self.clocks]):
            self.due.pop(key, None)
            self._ticked.pop(key, None)
            self._clock_status(key, None)
        self.table.forget(partitions)
        metrics.TIMERS_PENDING.set(len(self.due))

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        metrics.READY.set(int(ready))

    def _follow(self, batch: Batch, keys: Iterable[bytes]) -> None:
        """Keep the timer index current: when each changed prospect next has something due."""
        now = time.time_ns() // 1_000_000
        for key in keys:
            ticked = self._ticked.pop(key, None)
            if ticked is not None:  # the tick for this due time has been processed: how late was it?
                metrics.TIMER_LATENESS_SECONDS.observe(max(0, now - ticked) / 1000)
            due = batch.deadline(key)
            if due is None:
                self.due.pop(key, None)
            else:
                self.due[key] = due
            self._clock_status(key, batch.clock_status(key))
        metrics.TIMERS_PENDING.set(len(self.due))

    def _clock_status(self, key: bytes, status: str | None) -> None:
        """Count the clocks waiting for a first response, open or already breached."""
        before = self.clocks.pop(key, None)
        if before is not None:
            metrics.SLA_CLOCKS_WAITING.labels(before).dec()
        if status is not None:
            self.clocks[key] = status
            metrics.SLA_CLOCKS_WAITING.labels(status).inc()

    def _due_now(self, now: int) -> list[bytes]:
        """Prospects with a timer due by now. Processing the tick sets the next due time; if the tick is lost or
        slow, the prospect is ticked again a little later."""
        due = [key for key, at in self.due.items() if at <= now]
        for key in due:
            self._ticked.setdefault(key, self.due[key])
            self.due[key] = now + RETICK_MS
        return due

    async def _every(self, seconds: float, stop: asyncio.Event, keys: Callable[[int], list[bytes]]) -> None:
        """Time passing can demote a lead, breach an SLA or end a program's wait; a tick is an input on the
        topic, so it is processed in order like any other."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except asyncio.TimeoutError:
                pass
            now = time.time_ns() // 1_000_000
            topic = self.topics.interactions
            try:
                await self._deliver([Record(topic, key, self._codec.encode(
                    Interaction(event_id=f"tick:{now}", prospect_key=key.decode(), type=TICK_TYPE, occurred_at=now,
                                received_at=now, source="worker"), topic)) for key in keys(now)])
            except KafkaError as exc:
                log.warning("ticks not sent (%s); the next ones catch up", exc)


def _program_metrics(change: ProgramChange) -> None:
    if change.kind == "enrolled":
        metrics.PROGRAM_ENROLLMENTS.labels(change.program).inc()
    else:
        metrics.PROGRAM_EXITS.labels(change.program, change.kind, change.reason).inc()


def _undecodable(letters: list[DeadLetter]) -> None:
    metrics.EVENTS_UNDECODABLE.inc(len(letters))


def _observe(batch: Batch, kinds: Counter[str], oldest_received_at: int) -> None:
    """A processed batch in the metrics: inputs by kind, the scoring latency of its oldest interaction (one
    observation per batch: one per input cost 5% of the worker), the scores it left."""
    for kind, count in kinds.items():
        metrics.EVENTS_PROCESSED.labels(kind).inc(count)
    metrics.DUPLICATES.inc(batch.duplicates)
    for identity, count in batch.created.items():
        metrics.PROSPECTS_CREATED.labels(identity).inc(count)
    if oldest_received_at != NO_INTERACTION:
        metrics.SCORING_LATENCY_SECONDS.observe(max(0, time.time_ns() // 1_000_000 - oldest_received_at) / 1000)
    for key in batch.changed:
        state = batch.state(key)
        metrics.PROSPECT_SCORE.observe(state.fit + state.behaviour)
