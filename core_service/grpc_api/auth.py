"""Who may call the core at all: the edge and internal services with the service token, ops
with the admin token. Per-tenant checks of Sitoo's own credentials happen in the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from core_service.crypto import constant_time_equals

ADMIN_PREFIX = "/sitoo_bloomreach.v1.AdminService/"
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _bearer(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _deny(
    handler: grpc.RpcMethodHandler[Any, Any], message: str
) -> grpc.RpcMethodHandler[Any, Any]:
    async def abort(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def abort_stream(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    deserializer = handler.request_deserializer
    serializer = handler.response_serializer
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(abort_stream, deserializer, serializer)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(abort, deserializer, serializer)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(abort_stream, deserializer, serializer)
    return grpc.unary_unary_rpc_method_handler(abort, deserializer, serializer)


if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


class TokenAuthInterceptor(_ServerInterceptor):
    def __init__(self, service_token: str, admin_token: str) -> None:
        if constant_time_equals(service_token, admin_token):
            raise ValueError("the admin token must differ from the service token")
        self._service_token = service_token
        self._admin_token = admin_token

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        token = _bearer(handler_call_details.invocation_metadata)
        if method.startswith(ADMIN_PREFIX):
            if not constant_time_equals(token, self._admin_token):
                return _deny(handler, "admin token required")
            return handler
        if method.startswith("/sitoo_bloomreach."):
            # Customers and order events: the service token only.
            if not constant_time_equals(token, self._service_token):
                return _deny(handler, "service token required")
            return handler
        # Reflection and other standard services: either token, so operators can inspect
        # the core with grpcurl and their admin token.
        service_ok = constant_time_equals(token, self._service_token)
        admin_ok = constant_time_equals(token, self._admin_token)
        if not (service_ok or admin_ok):
            return _deny(handler, "service or admin token required")
        return handler
