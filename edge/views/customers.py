"""CRM SPI v2 views, one class per resource (routes in edge.spi_contract, JSON shapes in
edge.customer_json)."""

from __future__ import annotations

from aiohttp import web

from edge import customer_json, input_guard, spi_contract
from edge.card_cache_header import CacheSource, answer_and_source, marked
from edge.core_client import Metadata
from edge.keys import CORE, METRICS
from edge.views.base import SpiView
from sitoo_bloomreach.v1 import customers_pb2 as pb


def _render_customer(customer: pb.Customer) -> web.StreamResponse:
    return web.json_response(customer_json.customer_json(customer))


class CustomerSpiView(SpiView):
    @property
    def customer_id(self) -> str:
        return input_guard.proto_text(self.request.match_info["customer_id"], "customer_id")

    def search_key(self, *, key_type_required: bool = True) -> tuple[str, str] | web.Response:
        """``key_type`` and ``key`` from the query, or the 400 naming what is wrong."""
        query = self.request.query
        key_type = query.get("key_type", "")
        key = query.get("key", "")
        if not key_type and key_type_required:
            return self.fail(400, "query parameter key_type is required")
        if key_type and key_type not in spi_contract.SEARCH_KEY_TYPES:
            return self.fail(
                400,
                f"key_type {key_type!r} is not supported; one of "
                f"{', '.join(spi_contract.SEARCH_KEY_TYPES)}",
            )
        if not key.strip():
            return self.fail(400, "query parameter key is required")
        if len(key) > spi_contract.MAX_KEY_LENGTH:
            return self.fail(400, f"key is longer than {spi_contract.MAX_KEY_LENGTH} characters")
        return key_type, input_guard.proto_text(key, "key")

    def cached(
        self, response: web.StreamResponse, source: CacheSource | None
    ) -> web.StreamResponse:
        """Issue 15: mark an answer the core gave from its card cache."""
        resource = self.request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        return marked(response, source, self.request.app[METRICS], route)

    async def customer_body(self) -> pb.CustomerInput | web.Response:
        try:
            data = customer_json.parse_object(await self.request.read())
            return customer_json.customer_input(data)
        except customer_json.InputError as exc:
            return self.fail(400, str(exc))


class CustomersView(CustomerSpiView):
    """``GET /customers?key_type=&key=`` (search) and ``POST /customers`` (add)."""

    async def get(self) -> web.StreamResponse:
        parsed = self.search_key()
        if isinstance(parsed, web.Response):
            return parsed
        key_type, key = parsed
        stub = self.request.app[CORE].customers
        request = pb.SearchCustomersRequest(
            integration=self.integration, key_type=key_type, key=key
        )

        async def call(
            metadata: Metadata, timeout: float
        ) -> tuple[pb.SearchCustomersResponse, CacheSource | None]:
            return await answer_and_source(
                stub.SearchCustomers(request, metadata=metadata, timeout=timeout)
            )

        def render(
            answer: tuple[pb.SearchCustomersResponse, CacheSource | None],
        ) -> web.StreamResponse:
            response, cached = answer
            body = web.json_response([customer_json.customer_json(c) for c in response.customers])
            return self.cached(body, cached)

        return await self.call_core("SearchCustomers", call, render)

    async def post(self) -> web.StreamResponse:
        body = await self.customer_body()
        if isinstance(body, web.Response):
            return body
        stub = self.request.app[CORE].customers
        request = pb.CreateCustomerRequest(integration=self.integration, customer=body)

        async def call(metadata: Metadata, timeout: float) -> pb.Customer:
            return await stub.CreateCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("CreateCustomer", call, _render_customer)


class CustomerView(CustomerSpiView):
    """``GET|PUT|PATCH /customers/{customer_id}``."""

    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.GetCustomerRequest(integration=self.integration, customer_id=self.customer_id)

        async def call(
            metadata: Metadata, timeout: float
        ) -> tuple[pb.Customer, CacheSource | None]:
            return await answer_and_source(
                stub.GetCustomer(request, metadata=metadata, timeout=timeout)
            )

        def render(answer: tuple[pb.Customer, CacheSource | None]) -> web.StreamResponse:
            return self.cached(_render_customer(answer[0]), answer[1])

        return await self.call_core("GetCustomer", call, render)

    async def put(self) -> web.StreamResponse:
        body = await self.customer_body()
        if isinstance(body, web.Response):
            return body
        stub = self.request.app[CORE].customers
        request = pb.UpdateCustomerRequest(
            integration=self.integration, customer_id=self.customer_id, customer=body
        )

        async def call(metadata: Metadata, timeout: float) -> pb.Customer:
            return await stub.UpdateCustomer(request, metadata=metadata, timeout=timeout)

        return await self.call_core("UpdateCustomer", call, _render_customer)

    async def patch(self) -> web.StreamResponse:
        return await self.put()


class CustomerTransactionsView(CustomerSpiView):
    async def get(self) -> web.StreamResponse:
        limit = input_guard.query_int(
            self.request.query, "limit", default=0, maximum=spi_contract.TRANSACTIONS_MAX_LIMIT
        )
        stub = self.request.app[CORE].customers
        request = pb.GetPurchaseHistoryRequest(
            integration=self.integration, customer_id=self.customer_id, limit=limit
        )

        async def call(metadata: Metadata, timeout: float) -> pb.GetPurchaseHistoryResponse:
            return await stub.GetPurchaseHistory(request, metadata=metadata, timeout=timeout)

        def render(response: pb.GetPurchaseHistoryResponse) -> web.StreamResponse:
            return web.json_response([customer_json.purchase_json(p) for p in response.purchases])

        return await self.call_core("GetPurchaseHistory", call, render)


class LookupView(CustomerSpiView):
    async def get(self) -> web.StreamResponse:
        parsed = self.search_key(key_type_required=False)
        if isinstance(parsed, web.Response):
            return parsed
        key_type, key = parsed
        stub = self.request.app[CORE].customers
        request = pb.LookupCustomerRequest(integration=self.integration, key_type=key_type, key=key)

        async def call(
            metadata: Metadata, timeout: float
        ) -> tuple[pb.LookupCustomerResponse, CacheSource | None]:
            return await answer_and_source(
                stub.LookupCustomer(request, metadata=metadata, timeout=timeout)
            )

        def render(
            answer: tuple[pb.LookupCustomerResponse, CacheSource | None],
        ) -> web.StreamResponse:
            response, cached = answer
            with_id = not spi_contract.LOOKUP_OMITS_CUSTOMER_ID
            body = web.json_response(
                [customer_json.customer_json(c, with_id=with_id) for c in response.customers]
            )
            return self.cached(body, cached)

        return await self.call_core("LookupCustomer", call, render)


class ConsentsView(SpiView):
    async def get(self) -> web.StreamResponse:
        stub = self.request.app[CORE].customers
        request = pb.ListConsentsRequest(integration=self.integration)

        async def call(metadata: Metadata, timeout: float) -> pb.ListConsentsResponse:
            return await stub.ListConsents(request, metadata=metadata, timeout=timeout)

        def render(response: pb.ListConsentsResponse) -> web.StreamResponse:
            return web.json_response([customer_json.consent_json(c) for c in response.consents])

        return await self.call_core("ListConsents", call, render)
