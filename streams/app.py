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
from schemas.records import Interaction
from streams import metrics
from streams.core.leads import lead_event
from streams.core.model import ScoringModel
from streams.core.prospect import ProspectState, apply
from streams.state_codec import dump_state, load_state

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
        web_enabled=False,
    )
    interactions = app.topic(config.topic("interactions"), key_type=bytes, value_type=bytes,
                             partitions=config.partitions)
    leads_name = config.topic("leads")
    leads = app.topic(leads_name, key_type=bytes, value_type=bytes, partitions=config.partitions)
    prospects = app.Table("prospects", partitions=config.partitions, key_type=bytes, value_type=bytes)

    def step(interaction: Interaction) -> list[tuple[bytes, bytes]]:
        key = interaction.prospect_key.encode()
        stored = prospects.get(key)
        state = load_state(stored) if stored is not None else ProspectState(interaction.prospect_key)
        outcome = apply(state, interaction, model)
        if outcome.state is state:
            metrics.DUPLICATES.inc()
            return []
        prospects[key] = dump_state(outcome.state)
        metrics.EVENTS_PROCESSED.labels(interaction.type).inc()
        out = []
        for change in outcome.effects:
            event = lead_event(outcome.state, change, model)
            metrics.LEAD_EVENTS.labels(event.type).inc()
            out.append((event.prospect_id.encode(), codec.encode(event, leads_name)))
        return out

    @app.on_rebalance_complete.connect
    async def on_rebalance_complete(sender: faust.App, **_: Any) -> None:
        assigned = [tp for tp in sender.consumer.assignment() if tp.topic == interactions.get_topic_name()]
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        metrics.READY.set(1)

    @app.agent(interactions, concurrency=1)
    async def score(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                interaction = codec.decode(event.value)
            except DecodeError as exc:
                metrics.EVENTS_UNDECODABLE.inc()
                log.warning("skipping undecodable record at %s[%s]@%s: %s", event.message.topic,
                            event.message.partition, event.message.offset, exc)
                continue
            for key, value in step(interaction):
                await leads.send(key=key, value=value)
            metrics.SCORING_SECONDS.observe(time.perf_counter() - started)

    return app
