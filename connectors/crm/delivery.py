"""What the sink hands a target and what a target hands back: the contract every CRM target keeps.

A target delivers a batch and returns the records it could never deliver (they go to the
dead-letter topic); transient trouble it retries itself (``leadflow.stage.backoff_delays``), and
it returns None only when the sink is stopping before the batch was done, so the sink commits
nothing for it. ``Failure`` is the shared stage's (``leadflow.stage``): what it dead-letters.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from aiokafka.structs import ConsumerRecord

from leadflow.stage import Failure
from schemas.records import LeadEvent, SlaEvent


@dataclass(frozen=True, slots=True)
class Delivery:
    record: ConsumerRecord
    event: LeadEvent | SlaEvent


class Target(Protocol):
    name: str

    async def deliver(self, items: list[Delivery], stop: asyncio.Event) -> list[Failure] | None: ...

    async def close(self) -> None: ...
