"""Step 2: Bloomreach access (tested as it is entered) and the Sitoo API for order look-ups."""

from __future__ import annotations

from aiohttp import web

from console.forms import URL_PATTERN, Errors, Form, integer, match, text
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb


def access_input(name: str, form: Form) -> pb.BloomreachAccessInput:
    """What the form holds; empty fields (the secret left blank) come from the stored ones."""
    return pb.BloomreachAccessInput(
        integration=name,
        api_base_url=text(form, "bloomreach_api_base_url"),
        project_token=text(form, "bloomreach_project_token"),
        api_key_id=text(form, "bloomreach_api_key_id"),
        api_secret=text(form, "bloomreach_api_secret"),
    )


def values_of(integration: pb.Integration) -> dict[str, object]:
    return {
        "bloomreach_api_base_url": integration.bloomreach.api_base_url,
        "bloomreach_project_token": integration.bloomreach.project_token,
        "bloomreach_api_key_id": integration.bloomreach.api_key_id,
        "sitoo_account_id": integration.sitoo.account_id or "",
        "sitoo_api_base_url": integration.sitoo.api_base_url,
        "sitoo_api_id": integration.sitoo.api_id,
        "sitoo_site_id": integration.sitoo.site_id or "",
    }


def settings_input(form: Form, errors: Errors) -> pb.IntegrationInput:
    settings = pb.IntegrationInput()
    for key in ("bloomreach_api_base_url", "sitoo_api_base_url"):
        match(errors, key, text(form, key), URL_PATTERN, "Enter an http(s) URL.")
    for key in (
        "bloomreach_api_base_url",
        "bloomreach_project_token",
        "bloomreach_api_key_id",
        "sitoo_api_base_url",
        "sitoo_api_id",
    ):
        setattr(settings, key, text(form, key))
    # Secrets are write-only: an empty field keeps the stored one.
    for key in ("bloomreach_api_secret", "sitoo_api_password"):
        if text(form, key):
            setattr(settings, key, text(form, key))
    account = integer(errors, form, "sitoo_account_id", "Sitoo account ID")
    if account is not None:
        settings.sitoo_account_id = account
    site = integer(errors, form, "sitoo_site_id", "e-shop (site) ID")
    if site is not None:
        settings.sitoo_site_id = site
    return settings


class AuthenticateView(ConsoleView):
    step = "authenticate"

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        return self.step_page(
            "authenticate.html",
            integration,
            self.step,
            values=values_of(integration),
            errors=Errors(),
            report=None,
        )

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        report = None
        if text(form, "action") == "test":
            # Without JavaScript the Test button posts the whole form here.
            report = await self.admin.check_bloomreach(access_input(self.name, form))
        else:
            settings = settings_input(form, errors)
            if not errors:
                await self.save(
                    self.step, self.admin.update_integration(self.name, settings), errors
                )
        integration = await self.integration()
        values = {k: v for k, v in form.items() if not k.endswith(("_secret", "_password"))}
        return self.step_page(
            "authenticate.html",
            integration,
            self.step,
            status=400 if errors else 200,
            values=values,
            errors=errors,
            report=report,
        )


class BloomreachCheckView(ConsoleView):
    """The Test button with JavaScript: the report as JSON, the page stays as typed."""

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        report = await self.admin.check_bloomreach(access_input(self.name, form))
        return web.json_response(
            {"ok": report.ok, "detail": report.detail, "remedy": report.remedy}
        )
