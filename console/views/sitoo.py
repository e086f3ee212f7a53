"""Step 6: exactly what to paste into Sitoo, and new credentials (shown once) on demand."""

from __future__ import annotations

from aiohttp import web

from console.forms import text
from console.keys import SETTINGS
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb

WHICH = {
    "spi": pb.RotateCredentialsRequest.SPI,
    "webhook": pb.RotateCredentialsRequest.WEBHOOK,
}


class SitooView(ConsoleView):
    step = "sitoo"

    def endpoints(self) -> dict[str, str]:
        base = f"{self.request.app[SETTINGS].resolved_edge_public_url}/sitoo/{self.name}"
        return {"crm_base_url": base, "events_url": f"{base}/events"}

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        endpoints = self.endpoints()
        return self.step_page(
            "sitoo.html",
            integration,
            self.step,
            crm_base_url=endpoints["crm_base_url"],
            events_url=endpoints["events_url"],
        )


class RotateView(ConsoleView):
    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        which = WHICH.get(text(form, "which"))
        if which is None:
            raise web.HTTPBadRequest(text="which must be spi or webhook")
        credentials = await self.admin.rotate_credentials(self.name, which)
        integration = await self.integration()
        return self.page(
            "credentials.html", integration=integration, credentials=credentials, created=False
        )
