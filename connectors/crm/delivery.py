"""What the sink hands a target and what a target hands back: the contract every CRM target keeps.

A target delivers a batch and returns the records it could never deliver (they go to the
dead-letter topic); transient trouble it retries itself, and it returns None only when the
sink is stopping before the batch was done, so the sink commits nothing for it.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Iterator, Protocol

from aiokafka.structs import ConsumerRecord

from schemas.records import LeadEvent, SlaEvent

BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class Delivery:
    record: ConsumerRecord
    event: LeadEvent | SlaEvent


@dataclass(frozen=True, slots=True)
class Failure:
    record: ConsumerRecord
    error: str
    attempts: int = 1


class Target(Protocol):
    name: str

    async def deliver(self, items: list[Delivery], stop: asyncio.Event) -> list[Failure] | None: ...

    async def close(self) -> None: ...


def backoff_delays(start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> Iterator[float]:
    """Exponential backoff with full jitter, so many sinks do not retry in step."""
    delay = start
    while True:
        yield random.uniform(0, delay)
        delay = min(cap, delay * 2)


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless the sink stops first; True if it is stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True
