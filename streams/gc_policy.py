"""Garbage-collector settings for a process that holds many long-lived prospect states.

The states are acyclic and the cache churns (prospects read from the store, changed,
written, let go), yet CPython's generational GC scanned each new state's objects in the
young generation and again in the middle one: a third of the worker's time at a million
names (`bench/scale.py`; 9,000-10,000 against 13,000-14,000 inputs/s with it out of the
way). So the objects that survive a checkpoint are frozen (``gc.freeze``: never scanned
again, still freed by reference counting when the cache lets them go), the young
generation is large enough that a checkpoint interval rarely fills it, and a full
collection every ``FULL_EVERY_S`` reclaims the reference cycles that a freeze caught
alive and that died later (asyncio's tasks and futures): a pause of ~1-2 s with 50,000
cached states, logged.

No ``gc.collect()`` before the first freeze: over every recovered state it would stall the
worker for a full collection, to sweep the little garbage start-up leaves.
"""

from __future__ import annotations

import gc
import logging
import time

YOUNG_THRESHOLD = 1_000_000  # net allocations between collections: more than a checkpoint interval makes
MIDDLE_THRESHOLD = 100
FULL_EVERY_S = 600.0
log = logging.getLogger("leadflow.worker")


def settle_long_lived_objects() -> None:
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, gc.get_threshold()[2])


class Freezer:
    """After each checkpoint: what survived it is frozen; now and then, a full collection."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._last_full = clock()

    def after_checkpoint(self) -> float:
        """Seconds spent in a full collection (0 when it was not due)."""
        now = self._clock()
        if now - self._last_full < FULL_EVERY_S:
            gc.freeze()
            return 0.0
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._last_full = self._clock()
        spent = self._last_full - now
        log.info("full garbage collection: %.2fs", spent)
        return spent
