"""The aiohttp application of the Bloomreach Engagement emulator.

Route names (targets for ``sandbox.faults``; ``"*"`` targets all of them):

==================== ===========================================================
name                 route
==================== ===========================================================
``system_time``      ``GET  /track/v2/projects/{token}/system/time``
``customers``        ``POST /track/v2/projects/{token}/customers``
``events``           ``POST /track/v2/projects/{token}/customers/events``
``batch``            ``POST /track/v2/projects/{token}/batch``
``attributes``       ``POST /data/v2/projects/{token}/customers/attributes``
``export_one``       ``POST /data/v2/projects/{token}/customers/export-one``
``export_events``    ``POST /data/v2/projects/{token}/customers/events``
``anonymize``        ``POST /data/v2/projects/{token}/customers/anonymize``
``anonymize_bulk``   ``POST /data/v2/projects/{token}/customers/anonymize_bulk``
``consent_categories`` ``GET /data/v2/projects/{token}/consent/categories``
==================== ===========================================================
"""

from __future__ import annotations

import logging
import os
from http import HTTPStatus

from aiohttp import web

from sandbox.bloomreach import data_api, tracking
from sandbox.bloomreach.admin import add_admin_routes
from sandbox.bloomreach.config import BloomreachConfig
from sandbox.bloomreach.persistence import persistence_ctx
from sandbox.bloomreach.responses import (
    METHOD_NOT_ALLOWED,
    NOT_FOUND_URL,
    ApiError,
    error_body,
)
from sandbox.bloomreach.state import STATE, EmulatorState
from sandbox.faults import ErrorBody, Handler, fault_middleware, install_faults

log = logging.getLogger(__name__)

TRACK = "/track/v2/projects/{token}"
DATA = "/data/v2/projects/{token}"

RATE_LIMITED = "Too many requests"  # the message sandbox.faults gives its limiter's 429

ROUTE_NAMES = (
    "system_time",
    "customers",
    "events",
    "batch",
    "attributes",
    "export_one",
    "export_events",
    "anonymize",
    "anonymize_bulk",
    "consent_categories",
)


def _http_error(exc: web.HTTPException) -> web.Response:
    if exc.status == HTTPStatus.NOT_FOUND:
        return error_body(404, NOT_FOUND_URL)
    if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
        return error_body(405, METHOD_NOT_ALLOWED)
    return error_body(exc.status, exc.reason)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: JSON bodies for HTTP errors and an ``x-request-id`` on every response."""
    try:
        response = await handler(request)
    except ApiError as exc:
        response = exc.response
    except web.HTTPException as exc:
        response = _http_error(exc)
    except ConnectionResetError:
        raise  # a "drop connection" fault: there is no answer to decorate
    except Exception:
        log.exception("emulator bug while handling %s %s", request.method, request.path)
        response = error_body(500, "Internal Server Error")
    response.headers["x-request-id"] = os.urandom(16).hex()
    return response


@web.middleware
async def request_count_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts each API request of a known project by route (``/_sandbox/stats`` shows them),
    before any injected fault: a faulted call was still made."""
    name = request.match_info.route.name
    store = request.app[STATE].projects.get(request.match_info.get("token", ""))
    if store is not None and name in ROUTE_NAMES:
        store.requests[name] = store.requests.get(name, 0) + 1
    return await handler(request)


def _add_routes(app: web.Application) -> None:
    r = app.router
    r.add_route("GET", f"{TRACK}/system/time", tracking.system_time, name="system_time")
    r.add_route("POST", f"{TRACK}/customers", tracking.customers, name="customers")
    r.add_route("POST", f"{TRACK}/customers/events", tracking.events, name="events")
    r.add_route("POST", f"{TRACK}/batch", tracking.batch, name="batch")
    r.add_route("POST", f"{DATA}/customers/attributes", data_api.attributes, name="attributes")
    r.add_route("POST", f"{DATA}/customers/export-one", data_api.export_one, name="export_one")
    r.add_route("POST", f"{DATA}/customers/events", data_api.export_events, name="export_events")
    r.add_route("POST", f"{DATA}/customers/anonymize", data_api.anonymize, name="anonymize")
    r.add_route(
        "POST",
        f"{DATA}/customers/anonymize_bulk",
        data_api.anonymize_bulk,
        name="anonymize_bulk",
    )
    r.add_route(
        "GET",
        f"{DATA}/consent/categories",
        data_api.consent_categories,
        name="consent_categories",
    )


def _fault_error_body(config: BloomreachConfig) -> ErrorBody:
    """Bloomreach's error shape for injected faults and the rate limiter's 429.

    [inferred] The limiter's 429 carries ``Retry-After`` only when configured (off by default).
    """

    def body(status: int, message: str) -> web.Response:
        response = error_body(status, message)
        retry_after = config.rate_limit_retry_after_s
        if (
            status == HTTPStatus.TOO_MANY_REQUESTS
            and message == RATE_LIMITED
            and retry_after is not None
        ):
            response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    return body


def create_app(config: BloomreachConfig) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware, request_count_middleware, fault_middleware],
        client_max_size=config.limits.max_request_bytes,
    )
    app[STATE] = EmulatorState.build(config)
    _add_routes(app)
    add_admin_routes(app)
    install_faults(
        app,
        error_body=_fault_error_body(config),
        faults=config.faults,
        requests_per_second=config.requests_per_second,
        seed=config.seed,
    )
    app.cleanup_ctx.append(persistence_ctx)
    return app
