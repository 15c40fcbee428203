"""Read prospect state straight from the worker's changelog topic, for `leadflow explain`, `rescore` and the API.

Works whether or not a worker runs. The changelog is partitioned like the interactions
topic, so one prospect needs only its own partition.
"""

from __future__ import annotations

from leadflow.config import Config
from leadflow.partitioner import partition_of
from leadflow.topic_reader import TopicReader
from streams.core.prospect import ProspectState
from streams.state_chunks import is_chunk, load, prospect_of


END_MARKER = b"\x00leadflow:end"  # a tombstone a recovering worker writes to find a partition's end; not a prospect


def changelog_topic(config: Config) -> str:
    return config.topic("prospect-state")


async def read_latest(config: Config, partitions: list[int] | None = None,
                      only: bytes | None = None) -> dict[bytes, bytes | None]:
    """The newest value of every key (or of the key ``only``) in these changelog partitions (all when None);
    None where the newest record deletes the key. How the worker recovers a partition, too."""
    latest: dict[bytes, bytes | None] = {}
    async with TopicReader(config, changelog_topic(config), partitions) as reader:
        async for records in reader.to_end():
            for record in records:
                if (only is None or prospect_of(record.key) == only) and record.key != END_MARKER:
                    latest[record.key] = record.value
    return latest


async def read_states(config: Config, key: str | None = None) -> dict[str, ProspectState]:
    """The latest state of one prospect key, or of every prospect."""
    if key is None:
        latest = await read_latest(config)
    else:
        latest = await read_latest(config, [partition_of(key.encode(), config.partitions)], key.encode())
    return {k.decode(): load(v, latest.get)[0] for k, v in latest.items() if v is not None and not is_chunk(k)}
