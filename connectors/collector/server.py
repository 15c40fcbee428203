"""`leadflow collector`: the aiohttp application and its lifecycle."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.collector.clock import Clock, system_clock
from connectors.collector.events_api import MAX_BATCH_BYTES, EventsHandler
from connectors.collector.pixel import PixelHandler
from connectors.collector.publisher import Publisher
from leadflow.config import Config
from schemas.codec import Codec

log = logging.getLogger("leadflow.collector")

def create_app(config: Config, codec: Codec, clock: Clock = system_clock) -> web.Application:
    app = web.Application(client_max_size=MAX_BATCH_BYTES + 1024)
    publisher = Publisher(config, codec)

    async def lifecycle(app: web.Application):
        await publisher.start()
        yield
        await publisher.stop()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        try:
            partitions = await asyncio.wait_for(publisher.partitions(), timeout=2)
        except Exception as exc:
            return web.json_response({"status": "not ready", "reason": f"Kafka: {exc!r}"}, status=503)
        return web.json_response({"status": "ready", "partitions": partitions})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/t/px.gif", PixelHandler(publisher, clock).handle)
    app.router.add_post("/v1/events", EventsHandler(publisher, clock).handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def run_collector(config: Config) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(create_app(config, Codec.for_config(config)), host=config.http_host, port=config.http_port,
                print=lambda *_: None, access_log=None, shutdown_timeout=5)
