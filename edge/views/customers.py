"""CRM SPI v2 views, one class per resource (routes in edge.spi_contract)."""

from __future__ import annotations

from aiohttp import web

from edge.core_client import Metadata
from edge.keys import CORE
from edge.views.base import SpiView
from sitoo_bloomreach.v1 import customers_pb2 as pb


def _not_rendered(_result: object) -> web.StreamResponse:  # pragma: no cover
    # The core answers UNIMPLEMENTED for every customer call until the customer path lands,
    # so nothing reaches here yet.
    raise web.HTTPNotImplemented()


class CustomersView(SpiView):
    """``GET /customers?key_type=&key=`` (search) and ``POST /customers`` (add)."""

    async def get(self) -> web.StreamResponse:
        key_type = self.request.query.get("key_type", "")
        key = self.request.query.get("key", "")
        if not key_type:
            return self.fail(400, "query parameter key_type is required")
        if not key:
            return self.fail(400, "query parameter key is required")
        stub = self.request.app[CORE].customers
        request = pb.SearchCustomersRequest(
            integration=self.integration, key_type=key_type, key=key
        )

        async def call(metadata: Metadata, timeout: float) -> pb.SearchCustomersResponse:
            return await stub.SearchCustomers(request, metadata=metadata, timeout=timeout)

        return await self.call_core("SearchCustomers", call, _not_rendered)

    async def post(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.CreateCustomerRequest(integration=self.integration)

        async def call(metadata: Metadata, timeout: float) -> pb.Customer:
            return await stub.CreateCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("CreateCustomer", call, _not_rendered)


class CustomerView(SpiView):
    """``GET|PUT|PATCH /customers/{customer_id}``."""

    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.GetCustomerRequest(
            integration=self.integration, customer_id=self.request.match_info["customer_id"]
        )

        async def call(metadata: Metadata, timeout: float) -> pb.Customer:
            return await stub.GetCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("GetCustomer", call, _not_rendered)

    async def put(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.UpdateCustomerRequest(
            integration=self.integration, customer_id=self.request.match_info["customer_id"]
        )

        async def call(metadata: Metadata, timeout: float) -> pb.Customer:
            return await stub.UpdateCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("UpdateCustomer", call, _not_rendered)

    async def patch(self) -> web.StreamResponse:
        return await self.put()


class CustomerTransactionsView(SpiView):
    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.GetPurchaseHistoryRequest(
            integration=self.integration, customer_id=self.request.match_info["customer_id"]
        )

        async def call(metadata: Metadata, timeout: float) -> pb.GetPurchaseHistoryResponse:
            return await stub.GetPurchaseHistory(request, metadata=metadata, timeout=timeout)

        return await self.call_core("GetPurchaseHistory", call, _not_rendered)


class LookupView(SpiView):
    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.LookupCustomerRequest(
            integration=self.integration,
            key_type=self.request.query.get("key_type", ""),
            key=self.request.query.get("key", ""),
        )

        async def call(metadata: Metadata, timeout: float) -> pb.LookupCustomerResponse:
            return await stub.LookupCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("LookupCustomer", call, _not_rendered)


class ConsentsView(SpiView):
    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.ListConsentsRequest(integration=self.integration)

        async def call(metadata: Metadata, timeout: float) -> pb.ListConsentsResponse:
            return await stub.ListConsents(request, metadata=metadata, timeout=timeout)

        return await self.call_core("ListConsents", call, _not_rendered)
