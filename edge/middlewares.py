"""Request id, access log, metrics, and errors as Sitoo error bodies."""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from edge import spi_contract
from edge.errors import RETRYABLE_FOR_WEBHOOK, error_response
from edge.input_guard import InputRejected
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
        except InputRejected as exc:
            response = error_response(400, str(exc), request_id)
        except web.HTTPException as exc:
            if exc.status < HTTPStatus.BAD_REQUEST:
                raise
            response = error_response(exc.status, exc.reason, request_id)
        except Exception as exc:
            log_unhandled(exc)
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


def log_unhandled(exc: BaseException) -> None:
    """The traceback of a bug, without the exception's message: messages of errors met while
    handling input (UnicodeEncodeError, ValueError, ...) quote that input, which may be
    personal data."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled error: %s", type(exc).__qualname__, extra={"exc": stack})


@web.middleware
async def webhook_never_500(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On the Events SPI, a bug answers 503, never 500: Sitoo retries 429, 503 and 504 and
    drops the batch on anything else (edge.errors.RETRYABLE_FOR_WEBHOOK), so a 500 would lose
    events that a fixed edge could still take."""
    if request.match_info.route.name != spi_contract.EVENTS.name:
        return await handler(request)
    try:
        response = await handler(request)
    except (web.HTTPException, InputRejected):
        raise
    except Exception as exc:
        log_unhandled(exc)
        return _retry_later(request)
    if (
        response.status >= HTTPStatus.INTERNAL_SERVER_ERROR
        and response.status not in RETRYABLE_FOR_WEBHOOK
    ):
        log.error("webhook answer %d turned into 503", response.status)
        return _retry_later(request)
    return response


def _retry_later(request: web.Request) -> web.Response:
    return error_response(
        503,
        "service temporarily unavailable, retry later",
        request_id_of(request),
        headers={"Retry-After": "1"},
    )
