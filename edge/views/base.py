"""What every SPI view shares: the integration in the URL, the caller's credential, and the
one way a core call turns into an HTTP answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from aiohttp import web

from edge import input_guard
from edge.core_client import ORIGIN_HEADERS, Metadata
from edge.errors import error_response, grpc_error_response
from edge.keys import ADMISSION, CORE, METRICS
from edge.middlewares import request_id_of

T = TypeVar("T")


class SpiView(web.View):
    # The Events SPI must never answer a server error Sitoo would drop (see edge.errors).
    webhook = False

    @property
    def integration(self) -> str:
        return input_guard.proto_text(self.request.match_info["integration"], "integration")

    @property
    def request_id(self) -> str:
        return request_id_of(self.request)

    def fail(self, status: int, message: str) -> web.Response:
        return error_response(status, message, self.request_id)

    def _count_auth_failure(self) -> None:
        resource = self.request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        self.request.app[METRICS].auth_failures.labels(route).inc()

    def metadata(self) -> Metadata:
        """What the core is told besides the message; raises InputRejected (a 400)."""
        headers = self.request.headers
        core = self.request.app[CORE]
        return core.metadata(
            self.request_id,
            input_guard.authorization(headers),
            {name: input_guard.origin_header(headers, name) for name in ORIGIN_HEADERS},
        )

    async def call_core(
        self,
        method: str,
        call: Callable[[Metadata, float], Awaitable[T]],
        render: Callable[[T], web.StreamResponse],
    ) -> web.StreamResponse:
        """Call the core within the edge's deadline and render the answer or the error."""
        if "Authorization" not in self.request.headers:
            self._count_auth_failure()
            return self.fail(401, "HTTP Basic credentials required")
        admission = None if self.webhook else self.request.app[ADMISSION]
        if admission is not None and not admission.try_enter(self.integration):
            return self._shed()
        core = self.request.app[CORE]
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            result = await call(self.metadata(), core.deadline_seconds)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAUTHENTICATED:
                self._count_auth_failure()
            return grpc_error_response(exc, self.request_id, webhook=self.webhook)
        finally:
            if admission is not None:
                admission.leave(self.integration)
            self.request.app[METRICS].core_call_duration.labels(method, code.name).observe(
                time.perf_counter() - started
            )
        return render(result)

    def _shed(self) -> web.Response:
        resource = self.request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        self.request.app[METRICS].shed.labels(route).inc()
        return error_response(
            503,
            "too many requests for this integration in flight, retry later",
            self.request_id,
            {"Retry-After": "1"},
        )
