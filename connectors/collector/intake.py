"""What every endpoint does with its outcome: publish accepted interactions, record rejections, count both."""

from __future__ import annotations

import logging

from connectors.collector import metrics
from leadflow.clock import Clock
from connectors.collector.publisher import Publisher
from connectors.collector.rejections import rejected_input
from schemas.records import Interaction

log = logging.getLogger("leadflow.collector")


class Intake:
    def __init__(self, publisher: Publisher, clock: Clock) -> None:
        self.publisher = publisher
        self.clock = clock

    async def accept(self, source: str, interactions: list[Interaction], wait_for_ack: bool = True) -> None:
        """Raises SpoolFull (or whatever the publisher raised) when the interactions could not be kept.

        ``wait_for_ack=False`` is for pixels and clicks, whose callers need no acknowledgement.
        """
        try:
            if wait_for_ack:
                await self.publisher.interactions(interactions)
            else:
                await self.publisher.submit(interactions)
        except Exception:
            for interaction in interactions:
                metrics.input_counter(source, interaction.type, "failed").inc()
            raise
        for interaction in interactions:
            metrics.input_counter(source, interaction.type, "accepted").inc()

    async def reject(self, source: str, code: str, reason: str, payload: bytes, content_type: str | None,
                     authenticated: bool = False) -> None:
        """Never raises: a refused input must not turn into a server error.

        ``authenticated``: the sender proved who it is (a verified webhook), so more of its payload is kept.
        """
        metrics.input_counter(source, "-", "rejected").inc()
        metrics.REJECTIONS.labels(source, code).inc()
        try:
            await self.publisher.rejected(rejected_input(source, f"{code}: {reason}", payload, self.clock(),
                                                         content_type, authenticated))
        except Exception as exc:
            log.warning("rejected %s input could not be recorded (%s)", source, exc.__class__.__name__)

    def ignore(self, source: str, type_: str) -> None:
        """A vendor event we deliberately do not track (e.g. SendGrid 'processed')."""
        metrics.input_counter(source, type_, "ignored").inc()
