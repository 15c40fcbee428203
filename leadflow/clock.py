"""Wall-clock time in epoch milliseconds, injectable so tests control it: the one clock every shell uses."""

import time
from typing import Callable

Clock = Callable[[], int]


def system_clock() -> int:
    return time.time_ns() // 1_000_000
