"""Step 7: run the core's validation checks and show the checklist with remedies."""

from __future__ import annotations

import grpc
from aiohttp import web

from console.keys import VALIDATIONS
from console.validations import Check, ValidationResult, now
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
        result = self.request.app[VALIDATIONS].get(self.name)
        return self.step_page("validate.html", integration, self.step, result=result)

    async def post(self) -> web.StreamResponse:
        integration = await self.integration()
        try:
            report = await self.admin.validate(self.name)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            result = ValidationResult(at=now(), passed=False, unavailable=NOT_AVAILABLE)
        else:
            result = ValidationResult(
                at=now(),
                passed=report.passed,
                checks=tuple(Check(c.name, c.passed, c.detail, c.remedy) for c in report.checks),
            )
        self.request.app[VALIDATIONS].record(self.name, result)
        return self.step_page("validate.html", integration, self.step, result=result)
