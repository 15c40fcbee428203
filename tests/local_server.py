"""A local HTTP server for a test: the stand-in for a service leadflow calls (an email provider's API, a chat or
webhook receiver), on 127.0.0.1 at a free port."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def local_server(handler: Handler, path: str = "/{tail:.*}", method: str = "*") -> AsyncIterator[str]:
    """Serve ``handler`` for ``path`` while the block runs; yields the base URL (``http://127.0.0.1:<port>``)."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
