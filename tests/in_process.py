"""Run one of leadflow's long-running loops (a process's ``run(stop)``) inside the test until what it should do
is done, then stop it the way a signal does."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


async def run_until(run: Callable[[asyncio.Event], Awaitable[None]], done: Callable[[], bool],
                    timeout_s: float = 30.0, stop_timeout_s: float = 15.0) -> None:
    """``run(stop)`` as a task until ``done()`` (asked off the event loop: it may query a database) holds or the
    time is up; a task that ends early fails the test with its exception. The caller asserts on the outcome."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while not await asyncio.to_thread(done) and loop.time() < deadline:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(task, stop_timeout_s)
