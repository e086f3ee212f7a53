"""Carries the edge's request id (``x-request-id`` metadata) into the core's log lines: every
log record written while a call is handled names the request that caused it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import grpc

from core_service.grpc_api.calls import REQUEST_ID
from core_service.grpc_api.pipeline import Handler
from runtime.logs import request_id_var

Context = grpc.aio.ServicerContext[Any, Any]


def _request_id(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    for key, value in metadata or ():
        if key == REQUEST_ID and isinstance(value, str) and value:
            return value[:100]
    return "core-" + uuid.uuid4().hex[:16]  # calls without one (CLI, tools) still get one


class RequestContextLayer:
    """A ``pipeline.MethodLayer``: the outermost, so that refusals are logged with the id."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def with_id(request: Any, context: Context) -> Any:
                token = request_id_var.set(_request_id(context.invocation_metadata()))
                try:
                    return await unary(request, context)  # type: ignore[arg-type]
                finally:
                    request_id_var.reset(token)

            return grpc.unary_unary_rpc_method_handler(
                with_id, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream

            async def stream_with_id(request: Any, context: Context) -> Any:
                # This call's own task: no reset needed.
                request_id_var.set(_request_id(context.invocation_metadata()))
                async for item in streaming(request, context):  # type: ignore[attr-defined,arg-type]
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                stream_with_id, handler.request_deserializer, handler.response_serializer
            )
        return handler
