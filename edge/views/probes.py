"""Liveness, readiness and metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from edge.keys import CORE, METRICS


async def healthz(_request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about the core (that is readiness)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the core answers its health check as SERVING (it checks its database)."""
    serving = await request.app[CORE].is_serving()
    request.app[METRICS].core_ready.set(1 if serving else 0)
    if serving:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "core unavailable"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    # Readiness as a metric, so an alert sees it even where nothing probes /readyz.
    metrics.core_ready.set(1 if await request.app[CORE].is_serving() else 0)
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
