"""The aiohttp application factory of the Sitoo REST API (orders) emulator."""

from __future__ import annotations

import logging

from aiohttp import web

from sandbox.faults import Handler, fault_middleware, install_faults
from sandbox.sitoo_api.config import SitooApiConfig
from sandbox.sitoo_api.errors import call_with_errors, error_response
from sandbox.sitoo_api.handlers import add_routes
from sandbox.sitoo_api.sandbox_routes import add_sandbox_routes
from sandbox.sitoo_api.state import STATE, SitooState

log = logging.getLogger(__name__)

#: Seeding thousands of orders in one request needs more than aiohttp's 1 MiB default.
CLIENT_MAX_SIZE = 256 * 1024 * 1024


@web.middleware
async def sitoo_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: Sitoo's error body for every non-2xx, and request statistics."""
    if request.path.startswith("/_sandbox/"):
        return await call_with_errors(request, handler)
    stats = request.app[STATE].stats
    route = request.match_info.route
    stats.count(stats.requests, route.name if route.name is not None else "unmatched")
    try:
        response = await call_with_errors(request, handler)
    except ConnectionResetError:
        stats.count(stats.responses, "dropped")
        raise
    stats.count(stats.responses, str(response.status))
    return response


def create_app(config: SitooApiConfig | None = None) -> web.Application:
    """Build the emulator. Routes are named (see ``handlers.ROUTES``) for fault targeting."""
    config = config or SitooApiConfig()
    state = SitooState.from_config(config)
    if config.state_file is not None and state.store.load(config.state_file):
        log.info("loaded Sitoo emulator state from %s", config.state_file)
    app = web.Application(
        middlewares=[sitoo_middleware, fault_middleware], client_max_size=CLIENT_MAX_SIZE
    )
    app[STATE] = state
    install_faults(
        app,
        error_body=error_response,
        faults=dict(config.faults),
        requests_per_second=config.requests_per_second,
        seed=config.seed,
    )
    add_routes(app)
    add_sandbox_routes(app)
    if config.state_file is not None:
        state_file = config.state_file

        async def save_state(app: web.Application) -> None:
            app[STATE].store.save(state_file)

        app.on_cleanup.append(save_state)
    return app
