"""The worker's HTTP side (Faust web, on LEADFLOW_WORKER_METRICS_PORT): metrics, health and the prospect API.

``GET /v1/prospects/{prospect_id}`` (or the prospect's email) answers from the worker that
holds the prospect's partition; any other worker forwards the request there (Faust's
router knows every worker's URL from the group assignment).
"""

from __future__ import annotations

from typing import Any, Callable

import faust
from faust.exceptions import SameNode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.collector.auth import bearer_token, same
from leadflow.explain import as_json
from streams.core.identity import InvalidEmail, key_for
from streams.core.model import ScoringModel
from streams.core.prospect import ProspectState

JSON_404 = {"error": "not_found", "reason": "no prospect with this id (or not scored yet)"}


def register_pages(app: faust.App, table: Any, lookup: Callable[[bytes], ProspectState | None], model: ScoringModel,
                   api_token: str | None) -> None:
    @app.page("/metrics")
    async def metrics(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return web.json({"status": "ok"})

    @app.page("/v1/prospects/{prospect}")
    async def prospect(web: faust.web.Web, request: faust.web.Request, prospect: str) -> faust.web.Response:
        if not api_token:
            return web.json({"error": "unavailable", "reason": "LEADFLOW_API_TOKEN is not set on this worker"},
                            status=503)
        if not same(bearer_token(request), api_token):
            return web.json({"error": "unauthorized", "reason": "send Authorization: Bearer <LEADFLOW_API_TOKEN>"},
                            status=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            key = key_for(prospect)
        except InvalidEmail as exc:
            return web.json({"error": "bad_request", "reason": str(exc)}, status=400)
        try:
            return await app.router.route_req(table.name, key, web, request)
        except SameNode:
            state = lookup(key.encode())
            if state is None:
                return web.json(JSON_404, status=404)
            return web.json(as_json(state, model))
