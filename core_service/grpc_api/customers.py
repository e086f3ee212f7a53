"""CustomerService: the CRM SPI v2, authenticated per integration."""

from __future__ import annotations

from typing import Any

import grpc

from core_service.domain.errors import Unauthenticated, UnknownIntegration
from core_service.domain.integration import Integration
from core_service.grpc_api.calls import caller_info, rpc
from core_service.metrics import CoreMetrics
from core_service.services.integrations import IntegrationService
from sitoo_bloomreach.v1 import customers_pb2 as pb
from sitoo_bloomreach.v1 import customers_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

NOT_YET = "the customer path is not available yet"


class CustomerServicer(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(self, integrations: IntegrationService, metrics: CoreMetrics) -> None:
        self._integrations = integrations
        self._metrics = metrics

    async def _authenticate(self, integration: str, context: Context) -> Integration:
        caller = caller_info(context)
        try:
            return await self._integrations.authenticate(
                integration, "spi", caller.sitoo_authorization
            )
        except Unauthenticated as exc:
            label = "_unknown_" if isinstance(exc, UnknownIntegration) else integration
            self._metrics.sitoo_auth_failures.labels(label, "spi").inc()
            raise

    async def _not_yet(self, integration: str, context: Context) -> None:
        await self._authenticate(integration, context)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, NOT_YET)

    @rpc
    async def SearchCustomers(
        self, request: pb.SearchCustomersRequest, context: Context
    ) -> pb.SearchCustomersResponse:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def GetCustomer(self, request: pb.GetCustomerRequest, context: Context) -> pb.Customer:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def CreateCustomer(
        self, request: pb.CreateCustomerRequest, context: Context
    ) -> pb.Customer:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def UpdateCustomer(
        self, request: pb.UpdateCustomerRequest, context: Context
    ) -> pb.Customer:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def LookupCustomer(
        self, request: pb.LookupCustomerRequest, context: Context
    ) -> pb.LookupCustomerResponse:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def ListConsents(
        self, request: pb.ListConsentsRequest, context: Context
    ) -> pb.ListConsentsResponse:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")

    @rpc
    async def GetPurchaseHistory(
        self, request: pb.GetPurchaseHistoryRequest, context: Context
    ) -> pb.GetPurchaseHistoryResponse:
        await self._not_yet(request.integration, context)
        raise AssertionError("unreachable")
