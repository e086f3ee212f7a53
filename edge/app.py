"""The edge's app factory: Sitoo's HTTP in, gRPC to the core out. No state, no rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from edge import openapi, spi_contract
from edge.admission import IntegrationAdmission
from edge.core_client import CoreClient
from edge.keys import ADMISSION, CORE, METRICS, SETTINGS
from edge.metrics import EdgeMetrics
from edge.middlewares import request_context, webhook_never_500
from edge.views import customers, events, loyalty, probes
from runtime.settings import Settings

_VIEWS: dict[str, type[web.View]] = {
    spi_contract.SEARCH_CUSTOMERS.name: customers.CustomersView,
    spi_contract.GET_CUSTOMER.name: customers.CustomerView,
    spi_contract.CUSTOMER_TRANSACTIONS.name: customers.CustomerTransactionsView,
    spi_contract.LOOKUP.name: customers.LookupView,
    spi_contract.CONSENTS.name: customers.ConsentsView,
    spi_contract.REDEEM.name: loyalty.RedeemView,
    spi_contract.UNDO_REDEEM.name: loyalty.UndoRedeemView,
    spi_contract.EVENTS.name: events.EventsView,
}


async def _core_channel(app: web.Application) -> AsyncIterator[None]:
    app[CORE] = CoreClient.from_settings(app[SETTINGS])
    yield
    await app[CORE].close()


def init_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[request_context, webhook_never_500],
        client_max_size=settings.edge_max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = EdgeMetrics.create()
    app[ADMISSION] = IntegrationAdmission(settings.edge_integration_max_in_flight)
    app.cleanup_ctx.append(_core_channel)
    # One resource per path: several SPI routes (search and add) share a path and a view.
    seen: set[str] = set()
    for route in spi_contract.ALL_ROUTES:
        if route.path in seen:
            continue
        seen.add(route.path)
        view = _VIEWS[route.name]
        app.router.add_view(spi_contract.INTEGRATION_PREFIX + route.path, view, name=route.name)
        if route.name != spi_contract.EVENTS.name:  # exported at 0 before the first shed
            app[METRICS].shed.labels(spi_contract.INTEGRATION_PREFIX + route.path)
    app.router.add_get("/healthz", probes.healthz, name="healthz")
    app.router.add_get("/readyz", probes.readyz, name="readyz")
    app.router.add_get("/metrics", probes.metrics, name="metrics")
    app.router.add_get("/openapi.json", openapi.serve, name="openapi")
    return app
