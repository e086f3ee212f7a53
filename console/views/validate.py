"""Step 7: run the core's validation checks and show the checklist with remedies."""

from __future__ import annotations

import time

import grpc
from aiohttp import web

from console.validations import ValidationResult, from_report
from console.views.base import ConsoleView

NOT_AVAILABLE = (
    "This core cannot validate integrations yet (its ValidateIntegration answers "
    "UNIMPLEMENTED). Upgrade the core; meanwhile use the Test button of step 2 to check the "
    "Bloomreach credentials."
)


class ValidateView(ConsoleView):
    step = "validate"

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        last = await self.admin.last_validation(self.name)
        result = from_report(last) if last is not None else None
        return self.step_page("validate.html", integration, self.step, result=result)

    async def post(self) -> web.StreamResponse:
        integration = await self.integration()
        try:
            report = await self.admin.validate(self.name)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            result = ValidationResult(at=time.time(), passed=False, unavailable=NOT_AVAILABLE)
        else:
            result = from_report(report)
        return self.step_page("validate.html", integration, self.step, result=result)
