"""Fault injection and rate limiting shared by the sandbox emulators.

Each emulator mounts :func:`fault_middleware` and the admin routes from :func:`add_fault_routes`.
Faults are configured per endpoint name (the aiohttp route name, or ``"*"`` for every route;
``NAME@TOKEN`` / ``*@TOKEN`` for one project's requests only) at
start-up and at run time through ``PUT /_sandbox/faults``; tests use them to make an emulator
misbehave on purpose.  The rate limiter answers ``429`` and *drops* the request's data, as both
vendors document.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str], web.Response]


@dataclass
class Fault:
    """What goes wrong on one endpoint. Rates are probabilities in ``[0, 1]``."""

    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: float = 0.0
    drop_rate: float = 0.0  # close the connection without an answer
    # After the real handler ran (data stored), fail the answer anyway: the client sees an
    # error for a request whose effect happened, as after a lost response.
    error_after_commit_rate: float = 0.0
    retry_after_s: float | None = None
    # Hold the request, unanswered, until the fault table is next replaced or cleared (PUT or
    # DELETE /_sandbox/faults), then answer it as if healthy: Bloomreach accepting a call and
    # never answering it. Counted as ``hung`` when held and ``released`` when let go, so a
    # test can see that its caller was answered while the call was still held.
    hang: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        fault = cls(**data)
        for name in ("error_rate", "drop_rate", "error_after_commit_rate"):
            value = getattr(fault, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not HTTPStatus.CONTINUE <= fault.error_status <= MAX_HTTP_STATUS:
            raise ValueError("error_status must be an HTTP status")
        if fault.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        return fault


@dataclass
class RateLimiter:
    """A fixed one-second window per client key (the vendors limit per IP)."""

    requests_per_second: float | None = None
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        if self.requests_per_second is None:
            return True
        second = int(time.monotonic())
        start, count = self._windows.get(key, (second, 0))
        if start != second:
            start, count = second, 0
        if count >= self.requests_per_second:
            self._windows[key] = (start, count)
            return False
        self._windows[key] = (start, count + 1)
        return True


@dataclass
class FaultState:
    faults: dict[str, Fault] = field(default_factory=dict)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    rng: random.Random = field(default_factory=random.Random)
    counters: dict[str, int] = field(default_factory=dict)
    # Set (and replaced) whenever the fault table changes: lets hung requests go.
    _release: asyncio.Event | None = None

    async def hang(self) -> None:
        if self._release is None:
            self._release = asyncio.Event()
        release = self._release
        self.count("hung")
        await release.wait()
        self.count("released")

    def release_hung(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = None

    def for_endpoint(self, name: str | None, project: str | None = None) -> Fault | None:
        """``NAME@PROJECT`` and ``*@PROJECT`` (the ``{token}`` in the path, e.g. one
        Bloomreach project) come before ``NAME`` and ``*``: one tenant can be made slow."""
        if project is not None:
            for key in (f"{name}@{project}", f"*@{project}"):
                if key in self.faults:
                    return self.faults[key]
        if name is not None and name in self.faults:
            return self.faults[name]
        return self.faults.get("*")

    def count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1


MAX_HTTP_STATUS = 599
FAULT_STATE = web.AppKey("sandbox_fault_state", FaultState)
ERROR_BODY: web.AppKey[ErrorBody] = web.AppKey("sandbox_error_body")


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    return route.name if route is not None else None


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_sandbox/"):
        return await handler(request)
    state = request.app[FAULT_STATE]
    error_body = request.app[ERROR_BODY]
    fault = state.for_endpoint(_route_name(request), request.match_info.get("token"))
    if not state.limiter.allow(request.remote or "unknown"):
        state.count("rate_limited")
        return error_body(429, "Too many requests")
    if fault is None:
        return await handler(request)
    if fault.hang:
        await state.hang()
        return await handler(request)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.drop_rate and state.rng.random() < fault.drop_rate:
        state.count("dropped")
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise ConnectionResetError("sandbox dropped the connection on purpose")
    if fault.error_rate and state.rng.random() < fault.error_rate:
        state.count("injected_errors")
        response = error_body(fault.error_status, "Injected fault")
        if fault.retry_after_s is not None:
            response.headers["Retry-After"] = f"{fault.retry_after_s:g}"
        return response
    result = await handler(request)
    if fault.error_after_commit_rate and state.rng.random() < fault.error_after_commit_rate:
        state.count("injected_errors_after_commit")
        return error_body(fault.error_status, "Injected fault after commit")
    return result


async def _get_faults(request: web.Request) -> web.Response:
    state = request.app[FAULT_STATE]
    return web.json_response(
        {
            "faults": {name: asdict(f) for name, f in state.faults.items()},
            "requests_per_second": state.limiter.requests_per_second,
            "counters": state.counters,
        }
    )


async def _put_faults(request: web.Request) -> web.Response:
    """Replace the fault table: ``{"faults": {endpoint: {...}}, "requests_per_second": n}``."""
    state = request.app[FAULT_STATE]
    try:
        body = await request.json()
        unknown = set(body) - {"faults", "requests_per_second"}
        if unknown:
            # Strict, so that a mistaken body fails loudly instead of clearing every fault.
            raise ValueError(
                f"unknown fields {sorted(unknown)}; expected faults, requests_per_second"
            )
        faults = {str(k): Fault.from_json(v) for k, v in body.get("faults", {}).items()}
        rps = body.get("requests_per_second")
        if rps is not None and (not isinstance(rps, int | float) or rps <= 0):
            raise ValueError("requests_per_second must be a positive number")
    except (ValueError, TypeError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state.faults = faults
    state.limiter = RateLimiter(requests_per_second=rps)
    state.release_hung()
    return await _get_faults(request)


async def _delete_faults(request: web.Request) -> web.Response:
    state = request.app[FAULT_STATE]
    state.faults = {}
    state.limiter = RateLimiter()
    state.release_hung()
    return await _get_faults(request)


def install_faults(
    app: web.Application,
    error_body: ErrorBody,
    faults: dict[str, Fault] | None = None,
    requests_per_second: float | None = None,
    seed: int | None = None,
) -> FaultState:
    """Mount the fault admin routes; the app must list :func:`fault_middleware` itself."""
    state = FaultState(
        faults=dict(faults or {}),
        limiter=RateLimiter(requests_per_second=requests_per_second),
        rng=random.Random(seed),  # noqa: S311 - fault injection, not cryptography
    )
    app[FAULT_STATE] = state
    app[ERROR_BODY] = error_body
    app.router.add_get("/_sandbox/faults", _get_faults)
    app.router.add_put("/_sandbox/faults", _put_faults)
    app.router.add_delete("/_sandbox/faults", _delete_faults)
    return state
