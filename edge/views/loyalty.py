"""Redeem and Undo Redeem (CRM SPI v2 §5.7, §5.8): the POS uses a customer's promotions and
bonus checks, or gives them back. Body and answer are our reading of Sitoo's contract
(edge.spi_contract, "Redeem and Undo Redeem"); the checks are edge.input_guard's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from edge import customer_json, input_guard
from edge.core_client import Metadata
from edge.keys import CORE
from edge.views.customers import CustomerSpiView
from sitoo_bloomreach.v1 import customers_pb2 as pb

Call = Callable[..., Awaitable[pb.RedeemResponse]]


def _render(response: pb.RedeemResponse) -> web.StreamResponse:
    return web.json_response(customer_json.customer_json(response.customer))


class _RedeemView(CustomerSpiView):
    method = ""

    async def post(self) -> web.StreamResponse:
        items = input_guard.redeem_items(input_guard.parse_json(await self.request.read()))
        request = pb.RedeemRequest(
            integration=self.integration,
            customer_id=self.customer_id,
            items=[pb.RedeemItem(**{key: value}) for key, value in items],
        )
        stub: Call = getattr(self.request.app[CORE].customers, self.method)

        async def call(metadata: Metadata, timeout: float) -> pb.RedeemResponse:
            return await stub(request, metadata=metadata, timeout=timeout)

        return await self.call_core(self.method, call, _render)


class RedeemView(_RedeemView):
    """``POST /customers/{customer_id}/redeem``."""

    method = "Redeem"


class UndoRedeemView(_RedeemView):
    """``POST /customers/{customer_id}/undo-redeem``."""

    method = "UndoRedeem"
