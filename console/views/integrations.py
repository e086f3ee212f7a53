"""The list of integrations, step 1 (add / edit: company, market) and credentials shown once."""

from __future__ import annotations

from aiohttp import web

from console.forms import (
    MARKET_PATTERN,
    NAME_PATTERN,
    Errors,
    Form,
    checked,
    integer,
    match,
    require,
    text,
)
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb


class IntegrationsView(ConsoleView):
    async def get(self) -> web.StreamResponse:
        return self.page("integrations.html", integrations=await self.admin.list_integrations())


def details_input(form: Form, errors: Errors) -> pb.IntegrationInput:
    company = require(errors, form, "company", "company name")
    market = require(errors, form, "market", "market")
    match(errors, "market", market, MARKET_PATTERN, "Use a two-letter country code, e.g. SE.")
    settings = pb.IntegrationInput(company=company, market=market.upper())
    display_name = text(form, "display_name")
    if display_name:
        settings.display_name = display_name
    return settings


class NewIntegrationView(ConsoleView):
    async def get(self) -> web.StreamResponse:
        return self.page("new.html", values={}, errors=Errors())

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        name = require(errors, form, "name", "integration name")
        match(
            errors,
            "name",
            name,
            NAME_PATTERN,
            "Use lower-case letters, digits and dashes (it becomes part of Sitoo's URL).",
        )
        settings = details_input(form, errors)
        if not errors:
            created = await self.submit(self.admin.create_integration(name, settings), errors)
            if created is not None:
                # Shown here, once: the core keeps only hashes of these passwords.
                return self.page(
                    "credentials.html",
                    integration=created.integration,
                    credentials=created.credentials,
                    created=True,
                )
        return self.page("new.html", status=400, values=dict(form), errors=errors)


class DetailsView(ConsoleView):
    step = "details"

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        values = {
            "display_name": integration.display_name,
            "company": integration.company,
            "market": integration.market,
            "enabled": "on" if integration.enabled else "",
            **outage_values(integration),
        }
        return self.step_page(
            "details.html", integration, self.step, values=values, errors=Errors()
        )

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        settings = details_input(form, errors)
        settings.enabled = checked(form, "enabled")
        outage_input(form, errors, settings)
        if not errors:
            await self.save(self.step, self.admin.update_integration(self.name, settings), errors)
        integration = await self.integration()
        return self.step_page(
            "details.html", integration, self.step, status=400, values=dict(form), errors=errors
        )


# ---- issue 15: what the till may do while Bloomreach fails ---------------------------------

DAY_S = 86400


def outage_values(integration: pb.Integration) -> dict[str, str]:
    return {
        "cached_reads": "on" if integration.cached_reads else "",
        "queued_writes": "on" if integration.queued_writes else "",
        "card_cache_max_cards": str(integration.card_cache_max_cards),
        "card_cache_ttl_days": f"{integration.card_cache_ttl_seconds / DAY_S:g}",
    }


def outage_input(form: Form, errors: Errors, settings: pb.IntegrationInput) -> None:
    settings.cached_reads = checked(form, "cached_reads")
    settings.queued_writes = checked(form, "queued_writes")
    max_cards = integer(errors, form, "card_cache_max_cards", "number of cached cards")
    if max_cards is not None:
        settings.card_cache_max_cards = max_cards
    days = text(form, "card_cache_ttl_days")
    if days:
        try:
            settings.card_cache_ttl_seconds = round(float(days) * DAY_S)
        except (ValueError, OverflowError):
            errors.add("card_cache_ttl_days", "The number of days must be a number, e.g. 30.")
