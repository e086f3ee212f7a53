"""An in-memory core for in-process tests of the edge's and the console's aiohttp apps.

The edge's interface to the core is the gRPC contract (``protos/sitoo_bloomreach/v1``), so
the fake implements those servicers (and the AdminService calls the console makes) and serves
them from a ``grpc.aio`` server on port 0 in the test's own event loop. The app under test
keeps its real channel, metadata and error path: a fake failure arrives as the same
``AioRpcError``, trailing metadata included, that the real core would send.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from sitoo_bloomreach.v1 import admin_pb2 as apb
from sitoo_bloomreach.v1 import admin_pb2_grpc, customers_pb2_grpc, order_events_pb2_grpc
from sitoo_bloomreach.v1 import customers_pb2 as cpb
from sitoo_bloomreach.v1 import order_events_pb2 as epb

ServicerContext = grpc.aio.ServicerContext[object, object]


@dataclass(frozen=True)
class Failure:
    """What the next calls fail with: a gRPC code, its details, and the optional reason the
    core sends in trailing metadata (``x-error-reason``)."""

    code: grpc.StatusCode
    details: str = ""
    reason: str = ""
    # Only this method fails (empty: every method).
    method: str = ""


@dataclass
class CoreState:
    """What the fake core holds and saw. Tests arrange it, then read what the edge sent.
    One bearer token stands for the service token (edge) and the admin token (console)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    customers: dict[str, cpb.Customer] = field(default_factory=dict)
    consents: list[cpb.ConsentDefinition] = field(default_factory=list)
    purchases: list[cpb.Purchase] = field(default_factory=list)
    integrations: dict[str, apb.Integration] = field(default_factory=dict)
    failure: Failure | None = None
    # GetCircuitBreaker's answer (issue 15 §3); None: UNIMPLEMENTED, as an older core.
    circuit: apb.CircuitBreakerStatus | None = None
    # Every call as (method, request, metadata), in order.
    calls: list[tuple[str, object, dict[str, str]]] = field(default_factory=list)

    def last(self, method: str) -> tuple[object, dict[str, str]]:
        for name, request, metadata in reversed(self.calls):
            if name == method:
                return request, metadata
        raise AssertionError(f"the core never saw {method}; it saw {[c[0] for c in self.calls]}")


async def _enter(state: CoreState, method: str, request: object, context: ServicerContext) -> None:
    metadata = {key: str(value) for key, value in context.invocation_metadata() or ()}
    state.calls.append((method, request, metadata))
    if metadata.get("authorization") != f"Bearer {state.token}":
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong token")
    if state.failure is not None and state.failure.method in ("", method):
        if state.failure.reason:
            context.set_trailing_metadata((("x-error-reason", state.failure.reason),))
        await context.abort(state.failure.code, state.failure.details)


class FakeCustomers(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(self, state: CoreState) -> None:
        self.state = state

    async def SearchCustomers(
        self, request: cpb.SearchCustomersRequest, context: ServicerContext
    ) -> cpb.SearchCustomersResponse:
        await _enter(self.state, "SearchCustomers", request, context)
        found = [
            c for c in self.state.customers.values() if getattr(c, request.key_type) == request.key
        ]
        return cpb.SearchCustomersResponse(customers=found)

    async def GetCustomer(
        self, request: cpb.GetCustomerRequest, context: ServicerContext
    ) -> cpb.Customer:
        await _enter(self.state, "GetCustomer", request, context)
        customer = self.state.customers.get(request.customer_id)
        if customer is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "customer not found")
        return customer

    async def CreateCustomer(
        self, request: cpb.CreateCustomerRequest, context: ServicerContext
    ) -> cpb.Customer:
        await _enter(self.state, "CreateCustomer", request, context)
        return self._store(f"c{len(self.state.customers) + 1}", request.customer)

    async def UpdateCustomer(
        self, request: cpb.UpdateCustomerRequest, context: ServicerContext
    ) -> cpb.Customer:
        await _enter(self.state, "UpdateCustomer", request, context)
        if request.customer_id not in self.state.customers:
            await context.abort(grpc.StatusCode.NOT_FOUND, "customer not found")
        return self._store(request.customer_id, request.customer)

    async def LookupCustomer(
        self, request: cpb.LookupCustomerRequest, context: ServicerContext
    ) -> cpb.LookupCustomerResponse:
        await _enter(self.state, "LookupCustomer", request, context)
        found = [c for c in self.state.customers.values() if request.key in (c.email, c.mobile)]
        return cpb.LookupCustomerResponse(customers=found)

    async def ListConsents(
        self, request: cpb.ListConsentsRequest, context: ServicerContext
    ) -> cpb.ListConsentsResponse:
        await _enter(self.state, "ListConsents", request, context)
        return cpb.ListConsentsResponse(consents=self.state.consents)

    async def GetPurchaseHistory(
        self, request: cpb.GetPurchaseHistoryRequest, context: ServicerContext
    ) -> cpb.GetPurchaseHistoryResponse:
        await _enter(self.state, "GetPurchaseHistory", request, context)
        purchases = self.state.purchases[: request.limit or None]
        return cpb.GetPurchaseHistoryResponse(purchases=purchases)

    async def Redeem(
        self, request: cpb.RedeemRequest, context: ServicerContext
    ) -> cpb.RedeemResponse:
        await _enter(self.state, "Redeem", request, context)
        return await self._redeem(request, context, redeemed=True)

    async def UndoRedeem(
        self, request: cpb.RedeemRequest, context: ServicerContext
    ) -> cpb.RedeemResponse:
        await _enter(self.state, "UndoRedeem", request, context)
        return await self._redeem(request, context, redeemed=False)

    async def _redeem(
        self, request: cpb.RedeemRequest, context: ServicerContext, *, redeemed: bool
    ) -> cpb.RedeemResponse:
        """All or nothing, like the core: an unknown offer, or one already in the wanted
        state, is INVALID_ARGUMENT naming the item, and nothing changes."""
        customer = self.state.customers.get(request.customer_id)
        if customer is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "customer not found")
        offers: dict[tuple[str, str], cpb.Promotion | cpb.BonusCheck] = {
            **{("promotion_id", p.promotion_id): p for p in customer.promotions},
            **{("bonus_check_id", b.bonus_check_id): b for b in customer.bonus_checks},
        }
        chosen = []
        for index, item in enumerate(request.items):
            kind = item.WhichOneof("item") or ""
            offer = offers.get((kind, getattr(item, kind) if kind else ""))
            if offer is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"items[{index}].{kind}: no such offer"
                )
            elif offer.redeemed == redeemed:
                state = "already redeemed" if redeemed else "not redeemed"
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"items[{index}].{kind}: {state}"
                )
            chosen.append(offer)
        for offer in chosen:
            offer.redeemed = redeemed
        return cpb.RedeemResponse(customer=customer)

    def _store(self, customer_id: str, given: cpb.CustomerInput) -> cpb.Customer:
        customer = cpb.Customer(
            customer_id=customer_id,
            email=given.email,
            name_first=given.name_first,
            name_last=given.name_last,
            mobile=given.mobile,
            member_number=given.member_number,
        )
        self.state.customers[customer_id] = customer
        return customer


class FakeOrderEvents(order_events_pb2_grpc.OrderEventServiceServicer):
    def __init__(self, state: CoreState) -> None:
        self.state = state

    async def IngestEvents(
        self, request: epb.IngestEventsRequest, context: ServicerContext
    ) -> epb.IngestEventsResponse:
        await _enter(self.state, "IngestEvents", request, context)
        if request.validation_error:
            # The real core quarantines the body, then answers this (after authenticating).
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.validation_error)
        return epb.IngestEventsResponse()


class FakeAdmin(admin_pb2_grpc.AdminServiceServicer):
    """The AdminService calls the console's integration pages make; the rest answer
    UNIMPLEMENTED (the generated base class), as an older core would."""

    def __init__(self, state: CoreState) -> None:
        self.state = state

    async def ListIntegrations(
        self, request: apb.ListIntegrationsRequest, context: ServicerContext
    ) -> apb.ListIntegrationsResponse:
        await _enter(self.state, "ListIntegrations", request, context)
        return apb.ListIntegrationsResponse(integrations=list(self.state.integrations.values()))

    async def GetIntegration(
        self, request: apb.GetIntegrationRequest, context: ServicerContext
    ) -> apb.Integration:
        await _enter(self.state, "GetIntegration", request, context)
        integration = self.state.integrations.get(request.name)
        if integration is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no integration {request.name!r}")
        return integration

    async def CreateIntegration(
        self, request: apb.CreateIntegrationRequest, context: ServicerContext
    ) -> apb.CreateIntegrationResponse:
        await _enter(self.state, "CreateIntegration", request, context)
        if request.name in self.state.integrations:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "that name is taken")
        integration = apb.Integration(
            name=request.name,
            company=request.settings.company,
            market=request.settings.market,
            spi_username=f"{request.name}-spi",
            webhook_username=f"{request.name}-webhook",
        )
        self.state.integrations[request.name] = integration
        credentials = apb.IssuedCredentials(
            spi_username=integration.spi_username,
            spi_password=secrets.token_urlsafe(16),
            webhook_username=integration.webhook_username,
            webhook_password=secrets.token_urlsafe(16),
        )
        return apb.CreateIntegrationResponse(integration=integration, credentials=credentials)

    async def UpdateIntegration(
        self, request: apb.UpdateIntegrationRequest, context: ServicerContext
    ) -> apb.Integration:
        await _enter(self.state, "UpdateIntegration", request, context)
        integration = self.state.integrations.get(request.name)
        if integration is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no integration {request.name!r}")
        integration.company = request.settings.company
        integration.market = request.settings.market
        # The rest as the core takes them: a field set in the input replaces the same-named
        # plain field of the integration (e.g. the loyalty settings, fields 60-69).
        plain = {f.name for f in apb.Integration.DESCRIPTOR.fields if f.message_type is None}
        for descriptor, value in request.settings.ListFields():
            if descriptor.name in plain and not descriptor.is_repeated:
                setattr(integration, descriptor.name, value)
        return integration

    # The operations page: an empty outbox, and the circuit breaker the test arranged.
    async def GetOutboxStats(
        self, request: apb.GetOutboxStatsRequest, context: ServicerContext
    ) -> apb.OutboxStats:
        await _enter(self.state, "GetOutboxStats", request, context)
        return apb.OutboxStats()

    async def ListOutboxMessages(
        self, request: apb.ListOutboxMessagesRequest, context: ServicerContext
    ) -> apb.ListOutboxMessagesResponse:
        await _enter(self.state, "ListOutboxMessages", request, context)
        return apb.ListOutboxMessagesResponse()

    async def ListQuarantine(
        self, request: apb.ListQuarantineRequest, context: ServicerContext
    ) -> apb.ListQuarantineResponse:
        await _enter(self.state, "ListQuarantine", request, context)
        return apb.ListQuarantineResponse()

    async def GetCircuitBreaker(
        self, request: apb.GetCircuitBreakerRequest, context: ServicerContext
    ) -> apb.CircuitBreakerStatus:
        await _enter(self.state, "GetCircuitBreaker", request, context)
        if self.state.circuit is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "an older core")
        assert self.state.circuit is not None
        return self.state.circuit


@dataclass
class FakeCore:
    state: CoreState
    health: HealthServicer
    target: str

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING
        if not serving:
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        await self.health.set("", status)


@asynccontextmanager
async def fake_core() -> AsyncIterator[FakeCore]:
    """A fake core on a port the OS picks, serving until the block ends."""
    state = CoreState()
    server = grpc.aio.server()
    customers_pb2_grpc.add_CustomerServiceServicer_to_server(FakeCustomers(state), server)
    order_events_pb2_grpc.add_OrderEventServiceServicer_to_server(FakeOrderEvents(state), server)
    admin = FakeAdmin(state)  # type: ignore[abstract]  # the rest answer UNIMPLEMENTED
    admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    core = FakeCore(state, health, f"127.0.0.1:{port}")
    await core.set_serving(True)
    try:
        yield core
    finally:
        await server.stop(None)
