"""Request id, access log, metrics, and errors as Sitoo error bodies."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from edge.errors import error_response
from edge.keys import METRICS, SETTINGS
from runtime.logs import request_id_var

log = logging.getLogger("edge.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
REQUEST_ID = "request_id"


def request_id_of(request: web.Request) -> str:
    value = request.get(REQUEST_ID)
    return value if isinstance(value, str) else ""


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the caller's request id if it is sane, else make one; log and measure the call."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = offered if _SAFE_REQUEST_ID.fullmatch(offered) else str(uuid.uuid4())
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    try:
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            # Sitoo lists no 413; a too-large body is a bad request in its terms.
            limit = request.app[SETTINGS].edge_max_body_bytes
            response = error_response(400, f"request body is larger than {limit} bytes", request_id)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(exc.status, exc.reason, request_id)
        except Exception:
            log.exception("unhandled error")
            response = error_response(500, "internal error", request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        elapsed = time.perf_counter() - started
        labels = (route_name, request.method, str(response.status))
        metrics = request.app[METRICS]
        metrics.requests.labels(*labels).inc()
        metrics.request_duration.labels(*labels).observe(elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route_name,
                "status": response.status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return response
    finally:
        request_id_var.reset(token)
