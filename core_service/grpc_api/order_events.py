"""OrderEventService: the Events SPI webhook, authenticated per integration."""

from __future__ import annotations

from typing import Any

import grpc

from core_service.domain.errors import (
    StorageError,
    Unauthenticated,
    UnknownIntegration,
    UpstreamUnavailable,
)
from core_service.grpc_api.calls import caller_info, rpc
from core_service.metrics import CoreMetrics
from core_service.services.ingest import IncomingEvent, IngestService, Outcome
from core_service.services.integrations import IntegrationService
from sitoo_bloomreach.v1 import order_events_pb2 as pb
from sitoo_bloomreach.v1 import order_events_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

_OUTCOMES = {
    Outcome.ACCEPTED: pb.EventResult.ACCEPTED,
    Outcome.DUPLICATE: pb.EventResult.DUPLICATE,
    Outcome.IGNORED: pb.EventResult.IGNORED,
}


def _incoming(event: pb.SitooEvent) -> IncomingEvent:
    order = event.order if event.HasField("order") else None
    return IncomingEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        event_date=event.event_date,
        account_id=event.account_id,
        eshop_id=order.eshop_id if order is not None else None,
        order_id=order.order_id if order is not None else None,
    )


class OrderEventServicer(order_events_pb2_grpc.OrderEventServiceServicer):
    def __init__(
        self, integrations: IntegrationService, ingest: IngestService, metrics: CoreMetrics
    ) -> None:
        self._integrations = integrations
        self._ingest = ingest
        self._metrics = metrics

    @rpc
    async def IngestEvents(
        self, request: pb.IngestEventsRequest, context: Context
    ) -> pb.IngestEventsResponse:
        caller = caller_info(context)
        try:
            integration = await self._integrations.authenticate(
                request.integration, "webhook", caller.sitoo_authorization
            )
        except Unauthenticated as exc:
            label = "_unknown_" if isinstance(exc, UnknownIntegration) else request.integration
            self._metrics.sitoo_auth_failures.labels(label, "webhook").inc()
            raise
        except StorageError as exc:
            # Sitoo must retry, not drop: UNAVAILABLE becomes 503 at the edge.
            raise UpstreamUnavailable("the database is unavailable, retry later") from exc
        results = await self._ingest.ingest(
            integration,
            [_incoming(e) for e in request.events],
            request.raw_body,
            request.validation_error,
            caller.request_id,
        )
        for _, outcome in results:
            self._metrics.webhook_events.labels(outcome.value).inc()
        return pb.IngestEventsResponse(
            results=[pb.EventResult(event_id=i, outcome=_OUTCOMES[o]) for i, o in results]
        )
