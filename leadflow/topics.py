"""`leadflow topics create|describe`: the topics of the design contract, created idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from leadflow.config import Config
from leadflow.kafka import COMPACTED, TOPICS


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int | None


def _admin(config: Config) -> KafkaAdminClient:
    kwargs = config.kafka.client_kwargs()
    return KafkaAdminClient(client_id="leadflow-admin", request_timeout_ms=15000, **kwargs)


def topic_configs(config: Config, name: str) -> dict[str, str]:
    """Compaction for the changelog, the interactions' retention, and with replicas an in-sync quorum: a write
    acknowledged (acks=all) survives losing a broker, and one broker down does not stop writes."""
    configs: dict[str, str] = {}
    if name in COMPACTED:
        configs["cleanup.policy"] = "compact"
    if name == "interactions":
        configs["retention.ms"] = str(config.interactions_retention_days * 86_400_000)
    if config.replication_factor > 1:
        configs["min.insync.replicas"] = str(min(2, config.replication_factor - 1))
    return configs


def create_topics(config: Config) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left alone."""
    admin = _admin(config)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in TOPICS if config.topic(name) not in existing]
        if missing:
            new = [NewTopic(config.topic(name), config.partitions, config.replication_factor,
                            topic_configs=topic_configs(config, name)) for name in missing]
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created them between list and create
        return [config.topic(name) for name in missing]
    finally:
        admin.close()


def describe_topics(config: Config) -> list[TopicInfo]:
    admin = _admin(config)
    try:
        names = [config.topic(name) for name in TOPICS]
        existing = set(admin.list_topics())
        present = [name for name in names if name in existing]
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(present)} if present else {}
        return [TopicInfo(name, described.get(name)) for name in names]
    finally:
        admin.close()

