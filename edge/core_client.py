"""The edge's one gRPC channel to the core, with the service token on every call."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.grpc_channel import open_channel
from runtime.settings import Settings, read_secret
from sitoo_bloomreach.v1 import customers_pb2_grpc, order_events_pb2_grpc

if TYPE_CHECKING:
    from sitoo_bloomreach.v1.customers_pb2_grpc import CustomerServiceAsyncStub
    from sitoo_bloomreach.v1.order_events_pb2_grpc import OrderEventServiceAsyncStub

# Metadata keys; the contract is documented in protos/sitoo_bloomreach/v1/customers.proto.
SITOO_AUTHORIZATION = "x-sitoo-authorization"
REQUEST_ID = "x-request-id"
ORIGIN_HEADERS = {
    "Store-ID": "x-sitoo-store-id",
    "Staff-ID": "x-sitoo-staff-id",
    "Register-ID": "x-sitoo-register-id",
}

Metadata = tuple[tuple[str, str], ...]


@dataclass
class CoreClient:
    channel: grpc.aio.Channel
    service_token: str
    deadline_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> CoreClient:
        token = read_secret(settings.service_token, settings.service_token_file, "SERVICE_TOKEN")
        return cls(open_channel(settings), token, settings.edge_core_deadline_seconds)

    # Built once: a stub builds a callable per method of its service, which every request
    # paid for when it was built per call.
    @cached_property
    def customers(self) -> CustomerServiceAsyncStub:
        return customers_pb2_grpc.CustomerServiceStub(self.channel)

    @cached_property
    def order_events(self) -> OrderEventServiceAsyncStub:
        return order_events_pb2_grpc.OrderEventServiceStub(self.channel)

    def metadata(
        self, request_id: str, authorization: str, headers: dict[str, str] | None = None
    ) -> Metadata:
        pairs = [
            ("authorization", f"Bearer {self.service_token}"),
            (REQUEST_ID, request_id),
            (SITOO_AUTHORIZATION, authorization),
        ]
        for header, key in ORIGIN_HEADERS.items():
            value = (headers or {}).get(header)
            if value:
                # Already printable ASCII, percent-encoded where needed (edge.input_guard);
                # the core decodes them.
                pairs.append((key, value))
        return tuple(pairs)

    async def is_serving(self, timeout: float = 1.0) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channel)
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=timeout,
                metadata=(("authorization", f"Bearer {self.service_token}"),),
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        await self.channel.close(None)
