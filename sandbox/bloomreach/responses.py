"""JSON responses, the error shapes Bloomreach uses, and request-body reading."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

NOT_FOUND_URL = "The requested URL was not found on the server"
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
BAD_REQUEST = (
    "BadRequest: The browser (or proxy) sent a request that this server could not understand"
)
INVALID_JSON = "Invalid JSON"
CUSTOMER_NOT_FOUND = "Customer does not exist"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def error_body(status: int, message: str) -> web.Response:
    """``{"success": false, "error": msg}`` - auth, project and transport errors [inferred]."""
    return json_response({"success": False, "error": message}, status)


def errors_body(status: int, *messages: str) -> web.Response:
    """``{"success": false, "errors": [...]}`` - tracking validation and permission errors."""
    return json_response({"success": False, "errors": list(messages)}, status)


def customer_not_found() -> web.Response:
    return json_response({"success": False, "errors": {"_global": [CUSTOMER_NOT_FOUND]}}, 404)


class ApiError(Exception):
    """Raised by handlers; the app's outer middleware answers with ``response``."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class BodyError(Exception):
    """The body is not a JSON document (the caller picks the error shape)."""


async def read_json(request: web.Request, *, require_json_type: bool) -> tuple[Any, int]:
    """The parsed JSON body and its size in bytes.

    A compressed body (``Content-Encoding`` other than identity, or gzip magic bytes) is a
    ``400 BadRequest`` [documented]. [inferred] A body not declared ``application/json`` is
    treated as invalid JSON, as a Flask-style ``get_json()`` would.
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(error_body(400, BAD_REQUEST))
    body = await request.read()
    if body[:2] == b"\x1f\x8b":
        raise ApiError(error_body(400, BAD_REQUEST))
    if require_json_type and request.content_type != "application/json":
        raise BodyError
    try:
        return json.loads(body), len(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError from exc
