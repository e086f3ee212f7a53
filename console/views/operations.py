"""Operations of one integration: outbox by state, deliveries, dead messages, quarantine."""

from __future__ import annotations

from aiohttp import web

from console.forms import text
from console.keys import SESSION
from console.validations import from_report
from console.views.base import ConsoleView

STATES = ("pending", "in_flight", "delivered", "skipped", "dead")
RECENT = 10


class OperationsView(ConsoleView):
    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        stats = await self.admin.outbox_stats(self.name)
        delivered = await self.admin.outbox_messages(self.name, "delivered", 1000)
        dead = await self.admin.outbox_messages(self.name, "dead", 100)
        quarantine = await self.admin.quarantine(self.name, 20)
        last_validation = await self.admin.last_validation(self.name)
        circuit = await self.admin.circuit_breaker(self.name)
        return self.page(
            "operations.html",
            integration=integration,
            states=STATES,
            counts=dict(stats.counts_by_state),
            oldest=stats.oldest_pending_age_seconds,
            recent=list(reversed(delivered[-RECENT:])),
            dead=dead,
            quarantine=quarantine,
            validation=from_report(last_validation) if last_validation is not None else None,
            circuit=circuit,
        )


class StatsView(ConsoleView):
    """The numbers alone, for the page to refresh without a reload."""

    async def get(self) -> web.StreamResponse:
        stats = await self.admin.outbox_stats(self.name)
        counts = {state: stats.counts_by_state.get(state, 0) for state in STATES}
        return web.json_response(
            {"counts": counts, "oldest_pending_age_seconds": stats.oldest_pending_age_seconds}
        )


class ReplayView(ConsoleView):
    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        message_id = text(form, "message_id")
        target = int(message_id) if message_id.isdigit() else None
        replayed = await self.admin.replay(self.name, target)
        self.request[SESSION].set_flash(f"Replayed {replayed} message(s).")
        raise web.HTTPSeeOther(f"/integrations/{self.name}/operations")
