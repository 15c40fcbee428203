"""How the collector holds client connections: a read deadline per request and bounded keep-alive.

Why: the collector faces the internet, and aiohttp bounds neither how long a client may take
to send a request's headers nor its body: a client that opens connections and trickles one
byte a second holds each of them (and its memory) for as long as it likes, and enough of
them starve everyone else (slowloris). aiohttp's keep-alive timer is the only guard, and it
defaults to an hour (75 s under ``run_app``).

``GuardedRequestHandler`` arms a deadline of ``LEADFLOW_HTTP_READ_TIMEOUT`` seconds when a
connection opens and whenever the first byte of a new request arrives; it is disarmed when
the request's headers and body have been received. If it fires first, a client still sending
headers gets ``408 Request Timeout`` and the connection is closed; one still sending its body
is closed. Other connections are untouched: every deadline is a timer on the loop, nothing
blocks. Idle keep-alive connections close after ``LEADFLOW_HTTP_KEEPALIVE_TIMEOUT`` (75 s by
default: longer than the usual load balancer idle timeout of 60 s, so the balancer, not the
collector, closes idle connections and never sends a request on a connection being closed).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class GuardedRequestHandler(RequestHandler):
    """aiohttp's HTTP/1 protocol with a deadline on reading each request."""

    def __init__(self, manager: web.Server, *, read_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._read_timeout_s = read_timeout_s
        self._read_deadline: asyncio.TimerHandle | None = None
        self._reading: Any = None  # the payload of the request being read, once its headers are in

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()  # a client that connects must send its request in time, too

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data and self._read_deadline is None:
            self._arm()
        super().data_received(data)
        if self._messages:
            self._reading = self._messages[-1][1]
        if self._reading is not None and self._reading.is_eof():
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._reading = None
        self._read_deadline = self._loop.call_later(self._read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
        self._read_deadline = None
        self._reading = None

    def _timed_out(self) -> None:
        self._read_deadline = None
        if self.transport is None:
            return
        if self._reading is None:  # still in the headers: nothing has answered this request yet
            self.transport.write(REQUEST_TIMEOUT)
        self.force_close()


class GuardedServer(web.Server):
    read_timeout_s: float

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, read_timeout_s=self.read_timeout_s, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An AppRunner whose connections are GuardedRequestHandlers."""

    def __init__(self, app: web.Application, *, read_timeout_s: float, keepalive_timeout_s: float,
                 **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=keepalive_timeout_s, **kwargs)
        self._read_timeout_s = read_timeout_s

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer  # same state; only the protocol it makes differs
        server.read_timeout_s = self._read_timeout_s  # type: ignore[attr-defined]
        return server


async def run(app: web.Application, host: str, port: int, reuse_port: bool, read_timeout_s: float,
              keepalive_timeout_s: float, internal: tuple[web.Application, str, int] | None = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully (what web.run_app does); ``internal``
    (app, host, port) is a second listener for what must not face the internet (the metrics)."""
    runner = GuardedRunner(app, read_timeout_s=read_timeout_s, keepalive_timeout_s=keepalive_timeout_s,
                           access_log=None, shutdown_timeout=5)
    runners = [runner]
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        if internal is not None:
            inner_app, inner_host, inner_port = internal
            runners.append(GuardedRunner(inner_app, read_timeout_s=read_timeout_s,
                                         keepalive_timeout_s=keepalive_timeout_s, access_log=None, shutdown_timeout=5))
            await runners[-1].setup()
            await web.TCPSite(runners[-1], inner_host, inner_port, reuse_port=reuse_port).start()
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        await stop.wait()
    finally:
        for each in reversed(runners):
            await each.cleanup()
