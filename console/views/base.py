"""What the console's views share: the gateway, the integration in the URL, redirects."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc
from aiohttp import web

from console.core import AdminGateway
from console.forms import Errors
from console.keys import ADMIN, SESSION
from console.templating import render
from sitoo_bloomreach.v1 import admin_pb2 as pb

STEPS = (
    ("details", "1. Integration"),
    ("authenticate", "2. Authenticate"),
    ("matching", "3. Customer matching"),
    ("mapping", "4. Property mapping"),
    ("consents", "5. Consents"),
    ("sitoo", "6. Sitoo webhooks"),
    ("validate", "7. Validate"),
)
T = TypeVar("T")
NEXT_STEP = {STEPS[i][0]: STEPS[i + 1][0] for i in range(len(STEPS) - 1)}
FORM_ERRORS = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
)


class ConsoleView(web.View):
    @property
    def admin(self) -> AdminGateway:
        return self.request.app[ADMIN]

    @property
    def name(self) -> str:
        return self.request.match_info["name"]

    async def integration(self) -> pb.Integration:
        return await self.admin.get_integration(self.name)

    def page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        return render(self.request, template, context, status=status)

    def step_page(
        self,
        template: str,
        integration: pb.Integration,
        step: str,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        return self.page(
            template, status=status, integration=integration, steps=STEPS, step=step, **context
        )

    def saved(self, step: str, message: str = "Saved.") -> web.HTTPSeeOther:
        self.request[SESSION].set_flash(message)
        return web.HTTPSeeOther(f"/integrations/{self.name}/{NEXT_STEP.get(step, step)}")

    async def submit(self, call: Awaitable[T], errors: Errors) -> T | None:
        """The core's answer to a form, or None with the core's message on ``errors.form`` when
        it refused the form as something the user can fix. Other failures propagate, to the
        error page."""
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            message = form_error(exc)
            if message is None:
                raise
            errors.form = message
            return None

    async def save(self, step: str, call: Awaitable[object], errors: Errors) -> None:
        """Save a step: on to the next one if the core took it (raises the redirect); else
        return, with the core's message on ``errors`` for the form to show again."""
        if await self.submit(call, errors) is not None:
            raise self.saved(step)


def form_error(exc: grpc.aio.AioRpcError) -> str | None:
    """The core's message for a form the user can fix; None for other failures."""
    if exc.code() in FORM_ERRORS:
        return exc.details() or exc.code().name
    return None
