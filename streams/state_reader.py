"""Read prospect state straight from the worker's changelog topic, for `leadflow explain`, `rescore` and the API.

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
    return config.topic("prospect-state")


async def read_states(config: Config, key: str | None = None) -> dict[str, ProspectState]:
    """The latest state of one prospect key, or of every prospect."""
    everything = list(range(config.partitions))
    partitions = None if key is None else [key_partitioner(key.encode(), everything, everything)]
    latest: dict[bytes, bytes | None] = {}
    async with TopicReader(config, changelog_topic(config), partitions) as reader:
        async for records in reader.to_end():
            for record in records:
                if key is None or record.key == key.encode():
                    latest[record.key] = record.value
    return {k.decode(): load_state(v) for k, v in latest.items() if v is not None}
