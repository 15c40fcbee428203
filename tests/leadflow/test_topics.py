"""What `leadflow topics create` asks the broker for, per topic."""

from leadflow.config import Config
from leadflow.topics import topic_configs


def test_single_broker_topics_get_compaction_and_retention_only() -> None:
    config = Config()
    assert topic_configs(config, "prospect-state") == {"cleanup.policy": "compact"}
    assert topic_configs(config, "interactions") == {"retention.ms": str(30 * 86_400_000)}
    assert topic_configs(config, "leads") == {}


def test_replicated_topics_require_an_in_sync_quorum() -> None:
    assert topic_configs(Config().with_changes(replication_factor=3), "leads") == {"min.insync.replicas": "2"}
    assert topic_configs(Config().with_changes(replication_factor=2), "leads") == {"min.insync.replicas": "1"}
    assert topic_configs(Config().with_changes(replication_factor=3, interactions_retention_days=7),
                         "interactions") == {"retention.ms": str(7 * 86_400_000), "min.insync.replicas": "2"}
