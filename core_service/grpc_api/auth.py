"""Who may call the core at all, and what each caller may do: every call is made by a named
client (the built-in `edge` with the service token, `admin` with the admin token, or a client
issued by `sitoo-bloomreach client create`, by token or by its mTLS certificate), and every
RPC needs one scope (`scopes.py`). Per-tenant checks of Sitoo's own credentials happen in the
services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from core_service.crypto import constant_time_equals
from core_service.domain.api_clients import (
    ADMIN_CLIENT,
    BUILTIN_SCOPES,
    EDGE_CLIENT,
    ClientIdentity,
)
from core_service.domain.errors import UpstreamUnavailable
from core_service.grpc_api.pipeline import Handler
from core_service.grpc_api.scopes import OPEN_PREFIXES, required_scope
from core_service.metrics import CoreMetrics
from core_service.services.api_clients import ApiClientService
from runtime.logs import client_var

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
UNKNOWN_CLIENT = "_unknown_"


def _bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _certificate_name(context: Context) -> str:
    """The common name of the caller's verified client certificate ('' without mTLS: gRPC
    reports a peer certificate only when the server required and verified one)."""
    names = list((context.auth_context() or {}).get("x509_common_name") or ())
    return names[0].decode("utf-8", "replace") if names else ""


def _scope(method: str) -> str | None:
    try:
        return required_scope(method)
    except KeyError:
        return "(none: this method is not open to clients)"


class ClientAuth:
    """A ``pipeline.MethodLayer``: inside the request context, outside the metrics."""

    def __init__(
        self,
        service_token: str,
        admin_token: str,
        clients: ApiClientService,
        metrics: CoreMetrics,
    ) -> None:
        if constant_time_equals(service_token, admin_token):
            raise ValueError("the admin token must differ from the service token")
        self._builtin = (
            (service_token, ClientIdentity(EDGE_CLIENT, BUILTIN_SCOPES[EDGE_CLIENT], True)),
            (admin_token, ClientIdentity(ADMIN_CLIENT, BUILTIN_SCOPES[ADMIN_CLIENT], True)),
        )
        self._clients = clients
        self._refusals = metrics.grpc_auth_refusals

    async def _identify(self, token: str, context: Context) -> ClientIdentity | None:
        if token:
            found: ClientIdentity | None = None
            for builtin_token, identity in self._builtin:
                # Every built-in is compared, in constant time, whichever matches.
                if constant_time_equals(token, builtin_token):
                    found = identity
            return found or await self._clients.by_token(token)
        subject = _certificate_name(context)
        return await self._clients.by_tls_subject(subject) if subject else None

    async def _admit(
        self,
        short: str,
        scope: str | None,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        context: Context,
    ) -> ClientIdentity:
        """The caller, if it may call the method (``short``, needing ``scope``); otherwise
        the call is aborted."""
        try:
            identity = await self._identify(_bearer(metadata), context)
        except UpstreamUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise AssertionError("unreachable: abort raises") from exc
        if identity is None:
            self._refusals.labels(short, "UNAUTHENTICATED", UNKNOWN_CLIENT).inc()
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "a client token (authorization: Bearer …) or a mapped client certificate is "
                "required",
            )
        assert identity is not None
        if scope is not None and not identity.may(scope):
            self._refusals.labels(short, "PERMISSION_DENIED", identity.name).inc()
            log.warning(
                "call refused: missing scope",
                extra={"client": identity.name, "method": short, "scope": scope},
            )
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"client {identity.name!r} lacks the {scope!r} scope for {short}",
            )
        return identity

    def wrap(self, method: str, handler: Handler) -> Handler:
        """A ``pipeline.MethodLayer``: every call of ``method`` admitted first (the token is
        read from each call's own metadata)."""
        if method.startswith(OPEN_PREFIXES):
            return handler
        short = method.rsplit("/", 1)[-1]
        scope = _scope(method)
        _admit = self._admit

        def admit(context: Context) -> Awaitable[ClientIdentity]:
            return _admit(short, scope, context.invocation_metadata(), context)

        deserializer = handler.request_deserializer
        serializer = handler.response_serializer

        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: Context) -> Any:
                identity = await admit(context)
                reset = client_var.set(identity.name)
                try:
                    return await unary(request, context)  # type: ignore[arg-type]
                finally:
                    client_var.reset(reset)

            return grpc.unary_unary_rpc_method_handler(unary_unary, deserializer, serializer)
        if handler.unary_stream is not None:
            unary_streaming = handler.unary_stream

            async def unary_stream(request: Any, context: Context) -> AsyncIterator[Any]:
                identity = await admit(context)
                client_var.set(identity.name)  # this call's own task: no reset needed
                async for item in unary_streaming(request, context):  # type: ignore[attr-defined,arg-type]
                    yield item

            return grpc.unary_stream_rpc_method_handler(unary_stream, deserializer, serializer)
        return _wrap_client_streaming(handler, admit)


def _wrap_client_streaming(
    handler: Handler, admit: Callable[[Context], Awaitable[ClientIdentity]]
) -> Handler:
    deserializer = handler.request_deserializer
    serializer = handler.response_serializer
    if handler.stream_stream is not None:
        streaming = handler.stream_stream

        async def stream_stream(requests: Any, context: Context) -> AsyncIterator[Any]:
            identity = await admit(context)
            client_var.set(identity.name)
            async for item in streaming(requests, context):  # type: ignore[attr-defined,arg-type]
                yield item

        return grpc.stream_stream_rpc_method_handler(stream_stream, deserializer, serializer)
    if handler.stream_unary is not None:
        collecting = handler.stream_unary

        async def stream_unary(requests: Any, context: Context) -> Any:
            identity = await admit(context)
            client_var.set(identity.name)
            return await collecting(requests, context)  # type: ignore[arg-type]

        return grpc.stream_unary_rpc_method_handler(stream_unary, deserializer, serializer)
    return handler
