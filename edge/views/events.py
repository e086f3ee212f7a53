"""Events SPI receiver: ``POST /events``."""

from __future__ import annotations

from aiohttp import web

from edge.core_client import Metadata
from edge.keys import CORE
from edge.views.base import SpiView
from sitoo_bloomreach.v1 import order_events_pb2 as pb


class EventsView(SpiView):
    webhook = True

    async def post(self) -> web.StreamResponse:
        raw = await self.request.read()
        stub = self.request.app[CORE].order_events
        request = pb.IngestEventsRequest(integration=self.integration, raw_body=raw)

        async def call(metadata: Metadata, timeout: float) -> pb.IngestEventsResponse:
            return await stub.IngestEvents(request, metadata=metadata, timeout=timeout)

        # Sitoo ignores the body of a 200 (documented); an empty one is what it expects.
        return await self.call_core("IngestEvents", call, lambda _result: web.Response())
