"""The worker's HTTP side (on LEADFLOW_WORKER_METRICS_PORT): metrics, health and the prospect API.

``GET /v1/prospects/{prospect_id}`` (or the prospect's email, or an ``anon:`` key) answers
from the worker's own table when it holds the prospect's partition, and otherwise from
the changelog topic, which every worker can read: any worker answers for every prospect.
The changelog read is ``streams.state_reader``'s: a store of that partition on this
machine (another worker's, or one this worker held before) plus the changelog's tail,
so a large partition is not read whole for one prospect.
"""

from __future__ import annotations

from typing import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadflow.http_auth import bearer_token, same
from leadflow.config import Config
from streams.core.explain import as_json
from streams.core.identity import InvalidEmail, key_for
from streams.core.model import ScoringModel
from streams.state_reader import read_states
from streams.table import ProspectTable


def _error(status: int, error: str, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": error, "reason": reason}, status=status, headers=headers or None)


def worker_routes(config: Config, table: ProspectTable, model: ScoringModel,
                  ready: Callable[[], bool] = lambda: True) -> web.Application:
    api_token = config.secrets.api_token

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        """Ready once the worker holds its partitions with their states recovered (a readiness probe's answer)."""
        if ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": "joining the group or recovering states"},
                                 status=503)

    async def prospect(request: web.Request) -> web.Response:
        if not api_token:
            return _error(503, "unavailable", "LEADFLOW_API_TOKEN is not set on this worker")
        if not same(bearer_token(request), api_token):
            return _error(401, "unauthorized", "send Authorization: Bearer <LEADFLOW_API_TOKEN>",
                          **{"WWW-Authenticate": "Bearer"})
        try:
            key = key_for(request.match_info["prospect"])
        except InvalidEmail as exc:
            return _error(400, "bad_request", str(exc))
        if table.partition_of(key.encode()) in table.partitions:
            state = table.live(key.encode())
        else:
            state = (await read_states(config, key)).get(key)
        if state is None:
            return _error(404, "not_found", "no prospect with this id (or not scored yet)")
        return web.json_response(as_json(state, model))

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/v1/prospects/{prospect}", prospect)
    return app


async def start_web(config: Config, table: ProspectTable, model: ScoringModel,
                    ready: Callable[[], bool]) -> web.AppRunner | None:
    if config.worker_metrics_port is None:
        return None
    runner = web.AppRunner(worker_routes(config, table, model, ready), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.internal_host, config.worker_metrics_port).start()
    return runner
