"""Sitoo's error body ``{"statuscode": N, "errortext": "..."}`` and the error middleware."""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web

from sandbox.faults import Handler

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by handlers; turned into Sitoo's error body by :func:`error_middleware`."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def error_response(status: int, text: str) -> web.Response:
    """Sitoo's error body. ``429`` answers carry ``Retry-After`` ([inferred] header name)."""
    response = web.json_response({"statuscode": status, "errortext": text}, status=status)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        # The limiter works in one-second windows, so one second is always enough.
        response.headers["Retry-After"] = "1"
    if status == HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Basic realm="Sitoo API"'
    return response


_TEXTS = {
    400: "Bad request",
    401: "Authorization failed",
    403: "Forbidden",
    404: "Not found",
    413: "Request entity too large",
    429: "Too many requests",
    500: "Internal server error",
}


def error_from_http_exception(exc: web.HTTPException) -> web.Response:
    status = exc.status
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        # [inferred] Sitoo has no DELETE (nor other unsupported methods) on its resources; the
        # stricter reading is "no such endpoint": 404 with the error body, not 405.
        status = 404
    return error_response(status, _TEXTS.get(status, exc.reason))


def to_error_response(exc: BaseException) -> web.Response:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.text)
    if isinstance(exc, web.HTTPException):
        return error_from_http_exception(exc)
    log.exception("unexpected error in the Sitoo emulator", exc_info=exc)
    return error_response(500, "Internal server error")


async def call_with_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run ``handler`` and make every non-2xx answer Sitoo's error body."""
    try:
        response = await handler(request)
    except ConnectionResetError:
        raise  # a dropped connection (fault injection): there is nobody to answer
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise
        return to_error_response(exc)
    except Exception as exc:
        return to_error_response(exc)
    return response
