"""`leadflow collector`: the aiohttp application, its routes and lifecycle."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from connectors.collector import connections
from connectors.collector import metrics as collector_metrics
from connectors.collector.clicks import ClickHandler
from leadflow.clock import Clock, system_clock
from connectors.collector.crm_feedback import FeedbackHandler
from connectors.collector.events_api import EventsHandler
from connectors.collector.forms import FormHandler
from connectors.collector.intake import Intake
from connectors.collector.pixel import PixelHandler
from connectors.collector.publisher import Publisher
from connectors.collector.spool import Spool
from connectors.collector.tracker import BeaconHandler, ScriptHandler
from connectors.collector.unsubscribe import UnsubscribeHandler
from connectors.collector.webhooks import ses
from connectors.collector.webhooks.handlers import MAX_BODY, WebhookHandlers
from leadflow.config import Config, ConfigError
from schemas.codec import Codec

log = logging.getLogger("leadflow.collector")
PROTECTED = (("write_key", "LEADFLOW_WRITE_KEY", "the events API"),
             ("link_secret", "LEADFLOW_LINK_SECRET", "tracked links"),
             ("crm_feedback_token", "LEADFLOW_CRM_FEEDBACK_TOKEN", "the CRM feedback endpoint"))


def check_protected(config: Config) -> None:
    """A production collector never runs a write endpoint without its credential."""
    for attr, env, what in PROTECTED:
        if not getattr(config.secrets, attr):
            raise ConfigError(env, f"required: {what} must not run unprotected")


CORS_PATHS = ("/v1/forms/", "/t/e")  # what websites post to: forms and the tracker's hits


def cors_middleware(origins: tuple[str, ...]):
    """Forms and tracker hits may come from the configured origins only; browsers get the CORS headers they need."""

    @web.middleware
    async def cors(request: web.Request, handler):
        if not request.path.startswith(CORS_PATHS):
            return await handler(request)
        origin = request.headers.get("Origin")
        allowed = bool(origin) and (origin in origins or "*" in origins)
        if request.method == "OPTIONS":
            if not allowed:
                return web.json_response({"error": f"origin {origin!r} is not in LEADFLOW_CORS_ORIGINS"}, status=403)
            return web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "86400", "Vary": "Origin"})
        if origin and origins and not allowed:
            return web.json_response({"error": f"origin {origin!r} is not in LEADFLOW_CORS_ORIGINS"}, status=403)
        response = await handler(request)
        if allowed:
            response.headers.update({"Access-Control-Allow-Origin": origin,
                                     "Access-Control-Allow-Credentials": "true", "Vary": "Origin"})
        return response

    return cors


def spools_for(config: Config, index: int, kind: str = "spool") -> tuple[Spool, list[Spool]]:
    """Each process owns <kind>/<index>; process 0 also replays spools left by processes that no longer run.

    ``kind``: "spool" for accepted events, "spool-rejected" for rejected inputs (their own, smaller budget).
    """
    root = config.data_dir / kind
    own = Spool(root / str(index))
    orphans: list[Spool] = []
    if index == 0 and root.is_dir():
        orphans = [Spool(path) for path in sorted(root.iterdir())
                   if path.is_dir() and path.name.isdigit() and int(path.name) >= config.collector.processes]
    return own, orphans


def create_app(config: Config, codec: Codec, clock: Clock = system_clock,
               http_get: ses.HttpGet = ses.http_get, index: int = 0) -> web.Application:
    # Bodies are inflated by connectors.collector.bodies, under a cap and with clear errors, not by aiohttp.
    app = web.Application(client_max_size=MAX_BODY, middlewares=[cors_middleware(config.collector.cors_origins)],
                          handler_args={"auto_decompress": False})
    own, orphans = spools_for(config, index)
    rejects, reject_orphans = spools_for(config, index, "spool-rejected")
    publisher = Publisher(config, codec, own, orphans, rejects, reject_orphans)
    intake = Intake(publisher, clock)

    async def lifecycle(app: web.Application):
        await publisher.start()
        yield
        await forms.close()
        await publisher.stop()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        try:
            partitions = await asyncio.wait_for(publisher.partitions(), timeout=2)
        except Exception as exc:  # the detail goes to the log, not to whoever asks: this port faces the internet
            log.info("not ready: Kafka: %r", exc)
            return web.json_response({"status": "not ready", "reason": "Kafka unreachable"}, status=503)
        return web.json_response({"status": "ready", "partitions": partitions})

    app.cleanup_ctx.append(lifecycle)
    if not config.collector_metrics_port:  # else served by metrics_app() on the internal address only
        app.router.add_get("/metrics", metrics)
    forms = FormHandler(config, intake)
    events = EventsHandler(config, intake)
    beacon = BeaconHandler(config, intake, events.mapping)  # one Segment mapping for the API and the tracker
    app.add_routes([
        web.get("/t/px.gif", PixelHandler(config, intake).handle),
        web.get("/t/lf.js", ScriptHandler(config).handle),
        web.post("/t/e", beacon.handle),
        web.options("/t/e", beacon.handle),
        web.get("/t/c", ClickHandler(config, intake).handle, allow_head=False),
        *UnsubscribeHandler(config, intake).routes(),
        *events.routes(),
        web.post("/v1/crm/feedback", FeedbackHandler(config, intake).handle),
        web.post("/v1/forms/{form_id}", forms.handle),
        web.options("/v1/forms/{form_id}", forms.handle),
        *WebhookHandlers(config, intake, http_get).routes(),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
    ])
    return app


async def metrics(request: web.Request) -> web.Response:
    body, content_type = collector_metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def metrics_app() -> web.Application:
    """`/metrics` alone, for LEADFLOW_COLLECTOR_METRICS_PORT: counters stay off the internet-facing port."""
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def serve(config: Config, index: int = 0) -> None:
    """One collector process; with several, they share the port through SO_REUSEPORT."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    settings = config.collector
    internal = (metrics_app(), config.internal_host, config.collector_metrics_port) \
        if config.collector_metrics_port else None
    asyncio.run(connections.run(create_app(config, Codec.for_config(config), index=index), config.http_host,
                                config.http_port, settings.processes > 1, settings.http_read_timeout_s,
                                settings.http_keepalive_timeout_s, internal))
