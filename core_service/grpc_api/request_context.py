"""Carries the edge's request id (``x-request-id`` metadata) into the core's log lines: every
log record written while a call is handled names the request that caused it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from core_service.grpc_api.calls import REQUEST_ID
from runtime.logs import request_id_var

if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


def _request_id(details: grpc.HandlerCallDetails) -> str:
    for key, value in details.invocation_metadata or ():
        if key == REQUEST_ID and isinstance(value, str) and value:
            return value[:100]
    return "core-" + uuid.uuid4().hex[:16]  # calls without one (CLI, tools) still get one


class RequestContextInterceptor(_ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        request_id = _request_id(handler_call_details)
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def with_id(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                token = request_id_var.set(request_id)
                try:
                    return await unary(request, context)  # type: ignore[arg-type]
                finally:
                    request_id_var.reset(token)

            return grpc.unary_unary_rpc_method_handler(
                with_id, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream

            async def stream_with_id(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> Any:
                request_id_var.set(request_id)  # this call's own task: no reset needed
                async for item in streaming(request, context):  # type: ignore[attr-defined,arg-type]
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                stream_with_id, handler.request_deserializer, handler.response_serializer
            )
        return handler
