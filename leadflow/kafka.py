"""Kafka clients built from Config: one place for acks, idempotence and security settings."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from leadflow.config import Config
from leadflow.partitioner import key_partitioner

TOPICS = ("interactions", "rejected", "leads", "sla", "crm-feedback", "sink-dlq", "identity", "prospect-state")
FETCH_MAX_WAIT_MS = 100  # a pipeline stage waits at most this for its next records (the client default is 500)
COMPACTED = frozenset({"prospect-state"})  # the worker's changelog: only the newest state per key matters


def new_producer(config: Config, **overrides: Any) -> AIOKafkaProducer:
    """acks=all always; idempotence where the broker supports it (Apache Kafka does, the embedded one does not)."""
    kwargs: dict[str, Any] = dict(
        config.kafka.client_kwargs(), acks="all", enable_idempotence=config.kafka.idempotence, linger_ms=2,
        request_timeout_ms=15000, partitioner=key_partitioner,
    )
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


def new_consumer(config: Config, group_id: str, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """Manual commits: callers commit only after their effect is durable."""
    kwargs: dict[str, Any] = dict(
        config.kafka.client_kwargs(), group_id=group_id, enable_auto_commit=False, auto_offset_reset="earliest",
        rebalance_timeout_ms=int(config.kafka.rebalance_timeout_s * 1000),
        session_timeout_ms=int(config.kafka.session_timeout_s * 1000),
        heartbeat_interval_ms=int(config.kafka.heartbeat_interval_s * 1000),
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)
