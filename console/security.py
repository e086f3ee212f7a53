"""Middlewares: session cookie, sign-in required, CSRF on every POST, safe headers, and core
errors turned into pages."""

from __future__ import annotations

import hmac
import logging

import grpc
from aiohttp import web
from aiohttp.typedefs import Handler

from console.keys import SESSION, SESSIONS, SETTINGS
from console.sessions import COOKIE_NAME
from console.templating import render

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/signin", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith(PUBLIC_PREFIXES):
        # Pages can show credentials once: never keep them in a cache.
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    codec = request.app[SESSIONS]
    session = codec.open(request.cookies.get(COOKIE_NAME))
    request[SESSION] = session
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    if session.changed:
        response.set_cookie(
            COOKIE_NAME,
            codec.seal(session),
            max_age=codec.max_age_seconds,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.app[SETTINGS].console_secure_cookies,
        )
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


@web.middleware
async def sign_in_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_public(request.path) and not request[SESSION].signed_in:
        if request.method == "GET" and "application/json" not in request.headers.get("Accept", ""):
            raise web.HTTPSeeOther("/signin")
        raise web.HTTPUnauthorized(text="sign in first")
    return await handler(request)


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            value = form.get(CSRF_FIELD, "")
            sent = value if isinstance(value, str) else ""
        expected = request[SESSION].csrf_token
        if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
            log.warning("CSRF check failed", extra={"path": request.path})
            raise web.HTTPForbidden(
                text="The form expired or did not come from this console. Reload the page "
                "and submit it again."
            )
    return await handler(request)


def _core_error_page(request: web.Request, exc: grpc.aio.AioRpcError) -> web.Response:
    code = exc.code()
    settings = request.app[SETTINGS]
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        title, status = "The core is unreachable", 503
        message = (
            f"The console cannot reach the core at {settings.core_target} "
            f"({exc.details()}). Is it running?"
        )
    elif code == grpc.StatusCode.NOT_FOUND:
        title, status, message = "Not found", 404, exc.details() or "No such item."
    elif code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        title, status = "The core refused the console", 502
        message = (
            "The core refused the console's admin token: give the console the same "
            "SITOO_BR_ADMIN_TOKEN (or _FILE) as the core."
        )
    else:
        title, status = "The core reported an error", 502
        message = f"{code.name.lower()}: {exc.details()}"
    return render(request, "error.html", {"title": title, "message": message}, status=status)


@web.middleware
async def core_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except grpc.aio.AioRpcError as exc:
        log.warning("core call failed: %s %s", exc.code().name, exc.details())
        return _core_error_page(request, exc)
