"""The Faust shell: decode -> core.apply -> store state -> emit lead events.

Interactions arrive keyed by prospect, so the prospects table is co-partitioned
with the topic and no repartition is needed. Agents run with concurrency=1, and
effects are idempotent (event_id de-duplication in the core, deterministic lead
event ids and version-guarded upserts in the sink), which makes at-least-once safe.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from leadflow.config import Config
from schemas.codec import Codec, DecodeError
from schemas.records import CrmFeedback, IdentityMerge, Interaction
from streams import metrics
from streams.core import lifecycle
from streams.core.leads import lead_event
from streams.core.model import ScoringModel
from streams.core.prospect import Forward, MergeRequest, ProspectState, Tick, absorb, apply
from streams.state_codec import dump_state, load_state

log = logging.getLogger("leadflow.worker")
TICK_TYPE = "clock.tick"  # not an interaction: the worker's own marker that time has passed


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
        producer_max_batch_size=config.kafka.worker_max_batch_bytes,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
    )
    interactions_name = config.topic("interactions")
    interactions = app.topic(interactions_name, key_type=bytes, value_type=bytes, partitions=config.partitions)
    identity_name = config.topic("identity")
    identity = app.topic(identity_name, key_type=bytes, value_type=bytes, partitions=config.partitions)
    # Verdicts and identity merges are keyed by prospect like interactions: one agent, one table, no repartition.
    inputs = app.topic(interactions_name, config.topic("crm-feedback"), identity_name, key_type=bytes,
                       value_type=bytes, partitions=config.partitions)
    leads_name = config.topic("leads")
    leads = app.topic(leads_name, key_type=bytes, value_type=bytes, partitions=config.partitions)
    prospects = app.Table("prospects", partitions=config.partitions, key_type=bytes, value_type=bytes)
    # Leads that decay could demote; the tick timer visits only these.
    watched = app.Table("lead-watch", partitions=config.partitions, key_type=bytes, value_type=bytes)

    def step(key: bytes, item: Interaction | CrmFeedback | Tick | MergeRequest) -> list[tuple[str, bytes, bytes]]:
        """Apply one input to its prospect; return the (topic, key, value) records its effects produce."""
        stored = prospects.get(key)
        state = load_state(stored) if stored is not None else ProspectState(key.decode())
        outcome = absorb(state, item, model) if isinstance(item, MergeRequest) else apply(state, item, model)
        if outcome.state is state:
            if not isinstance(item, Tick):
                metrics.DUPLICATES.inc()
            return []
        prospects[key] = dump_state(outcome.state)
        if outcome.state.stage == lifecycle.LEAD and model.demote_threshold is not None:
            watched[key] = b"1"
        elif key in watched:
            del watched[key]
        out = []
        for effect in outcome.effects:
            if isinstance(effect, Forward):
                moved = effect.interaction
                out.append((interactions_name, moved.prospect_key.encode(), codec.encode(moved, interactions_name)))
            elif isinstance(effect, MergeRequest):
                link = effect.link
                merge_record = IdentityMerge(
                    event_id=link.event_id, prospect_id=link.prospect_id or "", email=link.email,
                    anonymous_key=link.prospect_key, occurred_at=link.occurred_at, received_at=link.received_at,
                    inputs=tuple(codec.encode(i, identity_name) for i in effect.inputs))
                out.append((identity_name, merge_record.prospect_id.encode(), codec.encode(merge_record, identity_name)))
            else:
                event = lead_event(outcome.state, effect, model)
                metrics.LEAD_EVENTS.labels(event.type).inc()
                out.append((leads_name, event.prospect_id.encode(), codec.encode(event, leads_name)))
        return out

    outputs = {leads_name: leads, interactions_name: interactions, identity_name: identity}

    @app.timer(interval=config.decay_tick_s)
    async def tick() -> None:
        """Time passing can demote a lead; a tick is an input on the topic, so it is processed in order."""
        now = time.time_ns() // 1_000_000
        for key in list(watched.keys()):
            record = Interaction(event_id=f"tick:{now}", prospect_key=key.decode(), type=TICK_TYPE,
                                 occurred_at=now, received_at=now, source="worker")
            await interactions.send(key=key, value=codec.encode(record, interactions_name))

    @app.on_rebalance_complete.connect
    async def on_rebalance_complete(sender: faust.App, **_: Any) -> None:
        assigned = [tp for tp in sender.consumer.assignment() if tp.topic == interactions.get_topic_name()]
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        metrics.READY.set(1)

    @app.agent(inputs, concurrency=1)
    async def score(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                record = codec.decode(event.value)
            except DecodeError as exc:
                metrics.EVENTS_UNDECODABLE.inc()
                log.warning("skipping undecodable record at %s[%s]@%s: %s", event.message.topic,
                            event.message.partition, event.message.offset, exc)
                continue
            if isinstance(record, Interaction):
                key, kind = record.prospect_key.encode(), record.type
                item: Interaction | CrmFeedback | Tick | MergeRequest = (
                    Tick(record.occurred_at) if kind == TICK_TYPE else record)
            elif isinstance(record, CrmFeedback):
                key, kind, item = record.prospect_id.encode(), f"crm.{record.type}", record
            elif isinstance(record, IdentityMerge):
                link = Interaction(event_id=record.event_id, prospect_key=record.anonymous_key,
                                   prospect_id=record.prospect_id, email=record.email, type="identity.linked",
                                   occurred_at=record.occurred_at, received_at=record.received_at, source="worker")
                key, kind = record.prospect_id.encode(), "identity.merged"
                item = MergeRequest(link, tuple(codec.decode(data) for data in record.inputs))
            else:
                continue
            for topic, out_key, value in step(key, item):
                await outputs[topic].send(key=out_key, value=value)
            metrics.EVENTS_PROCESSED.labels(kind).inc()
            metrics.SCORING_SECONDS.observe(time.perf_counter() - started)

    return app
