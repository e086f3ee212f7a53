"""What every RPC handler shares: the caller's metadata, the deadline, and the one mapping of
domain errors to gRPC status codes."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote

import grpc

from core_service.domain import errors

log = logging.getLogger(__name__)

# Metadata keys (documented in protos/sitoo_bloomreach/v1/customers.proto).
SITOO_AUTHORIZATION = "x-sitoo-authorization"
REQUEST_ID = "x-request-id"
STORE_ID = "x-sitoo-store-id"
STAFF_ID = "x-sitoo-staff-id"
REGISTER_ID = "x-sitoo-register-id"

_STATUS: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.UnknownIntegration: grpc.StatusCode.UNAUTHENTICATED,
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.UpstreamUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Overloaded: grpc.StatusCode.UNAVAILABLE,
    errors.CircuitOpen: grpc.StatusCode.UNAVAILABLE,
    errors.UpstreamRateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.UpstreamTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    # The database down or restarting: the same call may succeed later, so the caller is told
    # to retry (the edge's 503), never given a 500 that Sitoo would not retry.
    errors.StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ConnectionLost: grpc.StatusCode.UNAVAILABLE,
    # Our side's fault, not the caller's: INTERNAL, refined by the reason below into Sitoo's
    # 502 bad-gateway by the edge (edge/errors.py). gRPC has no "bad gateway" code.
    errors.UpstreamMisconfigured: grpc.StatusCode.INTERNAL,
    errors.UpstreamRejected: grpc.StatusCode.INTERNAL,
}

# Trailing-metadata key carrying a machine-readable reason (like google.rpc.ErrorInfo.reason).
ERROR_REASON = "x-error-reason"
# Trailing-metadata key: whole seconds the caller should wait (the edge's Retry-After).
RETRY_AFTER = "x-retry-after"


@dataclass(frozen=True)
class CallerInfo:
    request_id: str
    sitoo_authorization: str
    store_id: str
    staff_id: str
    register_id: str


def caller_info(context: grpc.aio.ServicerContext[object, object]) -> CallerInfo:
    metadata: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            metadata[key] = value

    def origin(key: str) -> str:
        # Sitoo URL-encodes these; the edge decodes them, decoding again is harmless for
        # plain values and protects callers that forward the raw header.
        return unquote(metadata.get(key, ""))[:200]

    return CallerInfo(
        request_id=metadata.get(REQUEST_ID, "")[:100],
        sitoo_authorization=metadata.get(SITOO_AUTHORIZATION, ""),
        store_id=origin(STORE_ID),
        staff_id=origin(STAFF_ID),
        register_id=origin(REGISTER_ID),
    )


S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def rpc(
    handler: Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]],
) -> Callable[[S, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]:
    """Run a unary handler inside the caller's deadline and map domain errors to statuses."""

    @functools.wraps(handler)
    async def wrapper(self: S, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
        remaining = context.time_remaining()
        try:
            async with asyncio.timeout(remaining):
                return await handler(self, request, context)
        except errors.DomainError as exc:
            code = _STATUS.get(type(exc), grpc.StatusCode.INTERNAL)
            reason = getattr(exc, "reason", "")
            trailing: tuple[tuple[str, str], ...] = ((ERROR_REASON, reason),) if reason else ()
            retry_after = getattr(exc, "retry_after_s", None)
            if isinstance(retry_after, int | float) and retry_after > 0:
                trailing += ((RETRY_AFTER, str(max(1, math.ceil(retry_after)))),)
            await context.abort(code, str(exc), trailing_metadata=trailing)
        except TimeoutError:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        raise AssertionError("unreachable: abort raises")

    return wrapper


def status_for(error: errors.DomainError) -> grpc.StatusCode:
    return _STATUS.get(type(error), grpc.StatusCode.INTERNAL)
