"""Read prospect state straight from the worker's changelog topic, for `leadflow explain` and `rescore`.

Works whether or not a worker runs. The changelog is partitioned like the interactions
topic, so one prospect needs only its own partition.
"""

from __future__ import annotations

from leadflow.config import Config
from leadflow.partitioner import key_partitioner
from leadflow.topic_reader import TopicReader
from streams.core.prospect import ProspectState
from streams.state_codec import load_state


def changelog_topic(config: Config) -> str:
    return f"{config.topic_prefix}-worker-prospects-changelog"


async def read_states(config: Config, key: str | None = None) -> dict[str, ProspectState]:
    """The latest state of one prospect key, or of every prospect."""
    topic = changelog_topic(config)
    partitions = None
    if key is not None:
        async with TopicReader(config, topic) as everything:
            count = len(everything.partitions)
        if not count:
            return {}
        partitions = [key_partitioner(key.encode(), list(range(count)), list(range(count)))]
    latest: dict[bytes, bytes | None] = {}
    async with TopicReader(config, topic, partitions) as reader:
        async for records in reader.to_end():
            for record in records:
                if key is None or record.key == key.encode():
                    latest[record.key] = record.value
    return {k.decode(): load_state(v) for k, v in latest.items() if v is not None}
