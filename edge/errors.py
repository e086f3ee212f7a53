"""gRPC status -> HTTP status and the Sitoo error body, in one table.

Follows google.rpc's HTTP mapping, narrowed to the statuses Sitoo's CRM SPI v2 lists
(200, 400, 401, 403, 404, 429, 500, 502, 503, 504). Deviations, and why:
* ALREADY_EXISTS -> 400, not 409: Sitoo lists no 409; creating an existing customer is a
  ``bad-request`` whose message says so.
* FAILED_PRECONDITION, OUT_OF_RANGE -> 400 (google.rpc agrees).
* ABORTED -> 503, not 409: a concurrency conflict the POS may simply retry.
* CANCELLED -> 503: the caller went away; if anyone reads the answer, "try again" is right.
* UNIMPLEMENTED -> 501: only while a capability is still being built.
* INTERNAL with reason ``upstream-misconfigured`` (Bloomreach refuses the integration's API
  key or project token, or they are not configured) or ``upstream-rejected`` (Bloomreach
  refused a request we built) -> 502 ``bad-gateway``: our side's configuration, neither the
  caller's fault nor transient. gRPC has no "bad gateway" code, so the core sends the reason
  in trailing metadata (``x-error-reason``, like google.rpc.ErrorInfo.reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Final, cast

import grpc
from aiohttp import web

from edge import spi_contract

GRPC_TO_HTTP: Final[dict[grpc.StatusCode, int]] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.ALREADY_EXISTS: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.ABORTED: 503,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.DATA_LOSS: 500,
}

ERROR_REASON = "x-error-reason"
# Seconds to wait before a retry (the core's choice), as trailing metadata; becomes Retry-After.
RETRY_AFTER = "x-retry-after"
MAX_RETRY_AFTER_S: Final = 3600
MAX_RETRY_AFTER_DIGITS: Final = len(str(MAX_RETRY_AFTER_S))
REASON_TO_HTTP: Final[dict[str, int]] = {
    "upstream-misconfigured": 502,
    "upstream-rejected": 502,
}

# Sitoo's Events SPI retries only 429, 503 and 504 and drops anything else, so every
# server-side failure on the webhook must become one of those: never lose an event to a 500.
RETRYABLE_FOR_WEBHOOK: Final = frozenset({429, 503, 504})


def http_status(code: grpc.StatusCode) -> int:
    return GRPC_TO_HTTP.get(code, 500)


def webhook_status(code: grpc.StatusCode) -> int:
    status = http_status(code)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR and status not in RETRYABLE_FOR_WEBHOOK:
        return 503
    return status


def error_response(
    status: int, message: str, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    response = web.json_response(
        spi_contract.error_body(status, message, request_id), status=status, headers=headers
    )
    if status == HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Basic realm="sitoo-bloomreach"'
    return response


def grpc_error_response(
    error: grpc.aio.AioRpcError, request_id: str, *, webhook: bool = False
) -> web.Response:
    code = error.code()
    status = webhook_status(code) if webhook else http_status(code)
    reason = _reason(error)
    if reason in REASON_TO_HTTP and not webhook:
        status = REASON_TO_HTTP[reason]
    if status == HTTPStatus.BAD_GATEWAY:
        # The core words these for the operator (they name the setting to fix, never a secret).
        message = error.details() or "bad gateway"
    elif status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        # Internal details stay in our logs; the caller learns what kind of failure it was.
        message = {
            503: "service temporarily unavailable, retry later",
            504: "upstream did not answer in time",
            501: error.details() or "not implemented",
        }.get(status, "internal error")
    else:
        message = error.details() or code.name.lower()
    headers = {"Retry-After": _retry_after(error)} if status in (429, 503) else None
    return error_response(status, message, request_id, headers)


def _trailing(error: grpc.aio.AioRpcError, wanted: str) -> str:
    # grpc.aio yields (key, value) tuples; the stubs describe an older metadatum class.
    pairs = cast("Iterable[tuple[str, str | bytes]]", error.trailing_metadata() or ())
    for key, value in pairs:
        if key == wanted and isinstance(value, str):
            return value
    return ""


def _reason(error: grpc.aio.AioRpcError) -> str:
    return _trailing(error, ERROR_REASON)


def _retry_after(error: grpc.aio.AioRpcError) -> str:
    """Whole seconds from the core (``x-retry-after``) when it said, else 1; bounded so a
    bug cannot tell Sitoo to wait for a day."""
    value = _trailing(error, RETRY_AFTER)
    if value.isascii() and value.isdigit() and 1 <= len(value) <= MAX_RETRY_AFTER_DIGITS:
        return str(min(int(value), MAX_RETRY_AFTER_S))
    return "1"
