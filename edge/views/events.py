"""Events SPI receiver: ``POST /events``."""

from __future__ import annotations

from aiohttp import web

from edge.core_client import Metadata
from edge.events_body import EventsBodyError, parse_events
from edge.keys import CORE
from edge.views.base import SpiView
from sitoo_bloomreach.v1 import order_events_pb2 as pb


class EventsView(SpiView):
    webhook = True

    async def post(self) -> web.StreamResponse:
        raw = await self.request.read()
        request = pb.IngestEventsRequest(integration=self.integration, raw_body=raw)
        try:
            request.events.extend(parse_events(raw))
        except EventsBodyError as exc:
            # Not refused here: the core authenticates first, then quarantines the body and
            # answers INVALID_ARGUMENT (400), so an unauthenticated caller can store nothing.
            request.validation_error = str(exc)
        stub = self.request.app[CORE].order_events

        async def call(metadata: Metadata, timeout: float) -> pb.IngestEventsResponse:
            return await stub.IngestEvents(request, metadata=metadata, timeout=timeout)

        # Sitoo ignores the body of a 200 (documented); an empty one is what it expects.
        return await self.call_core("IngestEvents", call, lambda _result: web.Response())
