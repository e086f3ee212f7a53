"""Sitoo and edge checks: the REST API credentials, and the edge's public URL."""

from __future__ import annotations

import time
from http import HTTPStatus

from core_service.domain.integration import Integration
from core_service.domain.sitoo_api import SitooAccount, SitooAuthFailed, SitooError
from core_service.domain.upstream import Unreachable
from core_service.domain.validation import Check
from core_service.services.upstream_ports import Upstream
from core_service.services.validation.checks import CALL_TIMEOUT_S, fail, ok, skip
from runtime.settings import Settings


class SitooChecks:
    """Sitoo's REST API with the integration's credentials, and the edge as Sitoo reaches it."""

    def __init__(self, upstream: Upstream, settings: Settings) -> None:
        self._upstream = upstream
        self._settings = settings

    async def sitoo_credentials(self, integration: Integration) -> Check:
        name = "sitoo_credentials"
        sitoo = integration.sitoo
        if not (sitoo.api_base_url and sitoo.account_id and sitoo.api_id):
            return fail(
                name,
                "the Sitoo REST API URL, account or API id is not configured",
                f"`sitoo-bloomreach integration update {integration.name} --sitoo-url URL "
                "--sitoo-account N --sitoo-api-id ID --sitoo-password-file FILE`",
            )
        account = SitooAccount(
            sitoo.api_base_url, sitoo.account_id, sitoo.api_id, sitoo.api_password or ""
        )
        now = int(time.time())
        try:
            page = await self._upstream.sitoo_order_lister(account).list_orders(
                date_from=now - 86400,
                date_to=now + 60,
                order_id_from=1,
                start=0,
                num=1,
                timeout=CALL_TIMEOUT_S,
                fields="orderid",
            )
        except SitooAuthFailed as exc:
            return fail(
                name,
                str(exc),
                f"Sitoo refused API id {sitoo.api_id!r} on account {sitoo.account_id}: create or "
                "reset its password in Sitoo Back Office > Settings > Sitoo REST API and run "
                f"`sitoo-bloomreach integration update {integration.name} "
                "--sitoo-password-file FILE` (the API id's prefix must be the account number)",
            )
        except SitooError as exc:
            return fail(
                name,
                str(exc),
                f"check the Sitoo REST API base URL ({sitoo.api_base_url!r}, shown in Back "
                "Office > Settings > Sitoo REST API) and the account number",
            )
        return ok(
            name,
            f"account {sitoo.account_id} accepted API id {sitoo.api_id!r} "
            f"({page.totalcount} orders in the last 24 h)",
        )

    async def edge_reachable(self) -> Check:
        name = "edge_reachable"
        url = (self._settings.edge_public_url or "").rstrip("/")
        if not url:
            return skip(name, "SITOO_BR_EDGE_PUBLIC_URL is not set")
        try:
            status = await self._upstream.status(f"{url}/readyz", CALL_TIMEOUT_S)
        except Unreachable as exc:
            return fail(
                name,
                f"{url}/readyz: {exc.cause}",
                "Sitoo calls the edge at this URL: check DNS, TLS and the load balancer, or "
                "fix SITOO_BR_EDGE_PUBLIC_URL",
            )
        if status != HTTPStatus.OK:
            return fail(
                name,
                f"{url}/readyz answered {status}",
                "the edge cannot reach the core or its database: check the edge's "
                "SITOO_BR_CORE_TARGET, the service token and the core's health",
            )
        return ok(name, f"{url} is ready")
