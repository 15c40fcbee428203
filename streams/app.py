"""The Faust shell: decode a batch -> core.apply -> send the outputs -> store the changed states -> ack.

Interactions arrive keyed by prospect, so the prospects table is co-partitioned with the
topic and no repartition is needed. One agent (concurrency=1) takes inputs in batches:
a hot prospect's state is written to the changelog once per batch rather than once per
event, and its ``lead.updated`` events coalesce. The ordering that keeps at-least-once
safe is in ``streams.batch``; the writes here are awaited, not left to Faust's
background buffer, whose flush before an offset commit gives up after 0.1 s per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from faust.types import TP

from leadflow.config import Config
from leadflow.partitioner import key_partitioner
from schemas.codec import Codec, DecodeError
from schemas.records import Interaction
from streams import metrics
from streams.batch import TICK_TYPE, Batch, Record, Topics, live_state, to_input
from streams.core.model import ScoringModel
from streams.gc_policy import settle_long_lived_objects
from streams.offsets import OffsetGuard
from streams.state_codec import dump_state
from streams.web import register_pages

log = logging.getLogger("leadflow.worker")


def faust_credentials(config: Config) -> Any:
    kafka = config.kafka
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username, password=kafka.sasl_password, mechanism=kafka.sasl_mechanism,
            ssl_context=kafka.ssl_context() if kafka.security_protocol == "SASL_SSL" else None,
        )
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(kafka.ssl_context())
    return None


def create_app(config: Config, model: ScoringModel, codec: Codec) -> faust.App:
    assert config.kafka.bootstrap, "the worker needs Kafka bootstrap servers"
    app = faust.App(
        f"{config.topic_prefix}-worker",
        broker=[f"kafka://{host}" for host in config.kafka.bootstrap.split(",")],
        broker_credentials=faust_credentials(config),
        broker_rebalance_timeout=config.kafka.rebalance_timeout_s,
        broker_session_timeout=config.kafka.session_timeout_s,
        broker_heartbeat_interval=config.kafka.heartbeat_interval_s,
        store="memory://",
        datadir=str(config.data_dir / "worker"),
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # Deeper buffers let a batch fill before its wait runs out: +30% events/s in bench/worker.py.
        stream_buffer_maxsize=32768,
        broker_max_poll_records=5000,
        web_enabled=config.worker_metrics_port is not None,
        web_port=config.worker_metrics_port or 6066,
        web_bind=config.http_host,
        web_in_thread=False,
    )
    topics = Topics(config.topic("interactions"), config.topic("identity"), config.topic("leads"))
    interactions = app.topic(topics.interactions, key_type=bytes, value_type=bytes, partitions=config.partitions)
    # Verdicts and identity merges are keyed by prospect like interactions: one agent, one table, no repartition.
    inputs = app.topic(topics.interactions, config.topic("crm-feedback"), topics.identity, key_type=bytes,
                       value_type=bytes, partitions=config.partitions)
    prospects = app.Table("prospects", partitions=config.partitions, key_type=bytes, value_type=bytes)
    store = prospects.data  # live ProspectState objects; bytes where recovery has just restored a state
    changelog = prospects.changelog_topic.get_topic_name()
    watched: set[bytes] = set()
    guard = OffsetGuard()
    reported_holes: set[tuple[str, int, int]] = set()
    register_pages(app, prospects, lambda key: live_state(store, key), model, config.secrets.api_token)

    async def deliver(records: list[Record]) -> None:
        futures = [await app.producer.send(r.topic, r.key, r.value, partition=r.partition, timestamp=None,
                                           headers=None) for r in records]
        await asyncio.gather(*futures)

    async def complete(batch: Batch) -> None:
        """The batch's outputs, then its changed states, each awaited: the order at-least-once rests on.
        On a broker that reports high watermarks per batch (the embedded one), each partition's last state
        record goes alone, so table recovery reads to the end."""
        await deliver(batch.finish())
        records = [Record(changelog, key, dump_state(batch.state(key)), partition)
                   for key, partition in batch.changed.items()]
        sealed: dict[int | None, Record] = {}
        if config.kafka.seal_changelog:
            sealed = {r.partition: r for r in records}
        await deliver([r for r in records if sealed.get(r.partition) is not r])
        await deliver(list(sealed.values()))

    def new_batch() -> Batch:
        return Batch(model, codec, topics, store, on_lead_event=lambda kind: metrics.LEAD_EVENTS.labels(kind).inc())

    @app.timer(interval=config.decay_tick_s)
    async def tick() -> None:
        """Time passing can demote a lead; a tick is an input on the topic, so it is processed in order."""
        now = time.time_ns() // 1_000_000
        for key in list(watched):
            record = Interaction(event_id=f"tick:{now}", prospect_key=key.decode(), type=TICK_TYPE,
                                 occurred_at=now, received_at=now, source="worker")
            await interactions.send(key=key, value=codec.encode(record, topics.interactions))

    @prospects.on_recover
    async def on_recovered() -> None:
        """Recovery restored states as bytes: decode them once, recompute those scored under another model
        (a new model was deployed), find the leads to watch, and let the GC stop rescanning them."""
        batch = new_batch()
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topics.interactions}
        everything = list(range(config.partitions))
        for key in list(store.keys()):
            partition = key_partitioner(key, everything, everything)
            if partition in assigned and batch.rescore_if_stale(key, partition):
                metrics.RESCORED.inc()
        if batch.changed:
            log.info("rescored %d prospects under model %s", len(batch.changed), model.version)
            await complete(batch)
        watched.clear()
        watched.update(key for key in list(store.keys()) if batch.watched(key))
        settle_long_lived_objects()

    @app.on_partitions_assigned.connect
    async def on_partitions_assigned(sender: faust.App, *_: Any, **__: Any) -> None:
        guard.reset()

    @app.on_rebalance_complete.connect
    async def on_rebalance_complete(sender: faust.App, **_: Any) -> None:
        assigned = [tp for tp in sender.consumer.assignment() if tp.topic == topics.interactions]
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        metrics.READY.set(1)

    @app.agent(inputs, concurrency=1)
    async def score(stream: faust.StreamT) -> None:
        async for events in stream.take_events(config.worker_batch_size, within=config.worker_batch_wait_ms / 1000):
            started = time.perf_counter()
            batch = new_batch()
            kinds: dict[str, int] = {}
            for event in events:
                if not guard.admit((event.message.topic, event.message.partition), event.message.offset):
                    continue
                try:
                    decoded = to_input(codec.decode(event.value), codec)
                except DecodeError as exc:
                    metrics.EVENTS_UNDECODABLE.inc()
                    log.warning("skipping undecodable record at %s[%s]@%s: %s", event.message.topic,
                                event.message.partition, event.message.offset, exc)
                    continue
                if decoded is None:
                    continue
                key, kind, item = decoded
                batch.add(key, event.message.partition, item)
                kinds[kind] = kinds.get(kind, 0) + 1
            await complete(batch)
            for key in batch.changed:
                (watched.add if batch.watched(key) else watched.discard)(key)
            for (topic, partition), offset in guard.rewinds().items():
                if (topic, partition, offset) not in reported_holes:
                    reported_holes.add((topic, partition, offset))
                    log.warning("records of %s[%d] were skipped from offset %d: reading them again", topic,
                                partition, offset)
                metrics.REWINDS.inc()
                await app.consumer.seek(TP(topic, partition), offset)
            for kind, count in kinds.items():
                metrics.EVENTS_PROCESSED.labels(kind).inc(count)
            metrics.DUPLICATES.inc(batch.duplicates)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.BATCH_SIZE.observe(len(events))

    return app
