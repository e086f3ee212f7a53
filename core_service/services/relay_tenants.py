"""The relay's view of the integrations: clients and a sender per integration, re-read when
the settings cache expires (``relay_config_refresh_seconds``) or when told to (SIGHUP)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core_service.adapters.bloomreach import BloomreachClient, BloomreachProject, CommandResult
from core_service.adapters.http_client import HttpClients
from core_service.adapters.sitoo_api import SitooAccount, SitooClient
from core_service.domain.integration import Integration
from core_service.domain.orders import CustomerRule
from core_service.metrics import CoreMetrics
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.ports import IntegrationLister
from core_service.services.relay_sender import ProjectSender
from runtime.settings import Settings


class OrderSource(Protocol):
    """Sitoo's order API as the relay uses it (adapters/sitoo_api.py's SitooClient)."""

    async def get_order(self, site_id: int, order_id: int, timeout: float) -> dict[str, Any]: ...


class CommandSender(Protocol):
    """A Bloomreach project's paced ``batch`` sender (services/relay_sender.py)."""

    async def send(
        self, commands: Sequence[dict[str, Any]], *, ordered: bool = False
    ) -> list[CommandResult]: ...

    async def close(self) -> None: ...


@dataclass
class Tenant:
    integration: Integration
    sitoo: OrderSource
    sender: CommandSender
    rule: CustomerRule


class Tenants(Protocol):
    """The relay's tenants by integration id (TenantCache; fakes in tests/unit)."""

    def __len__(self) -> int: ...

    def settings_changed(self) -> None: ...

    async def get(self, integration_id: int) -> Tenant | None: ...

    async def close(self) -> None: ...


class TenantCache:
    def __init__(
        self,
        integrations: IntegrationLister,
        http: HttpClients,
        settings: Settings,
        metrics: CoreMetrics,
        clock: Callable[[], float],
        *,
        breakers: CircuitBreakers | None = None,
    ) -> None:
        self._integrations = integrations
        self._http = http
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._breakers = breakers
        self._tenants: dict[int, Tenant] = {}
        self._loaded = 0.0
        # Bumped by settings_changed(); a load records the generation it started under, so a
        # load already running when settings change does not count as fresh.
        self._generation = 0
        self._loaded_generation = 0
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._tenants)

    def settings_changed(self) -> None:
        """Re-read integration settings before the next message, not after the cache's TTL
        (``kill -HUP`` on a relay process; tests use it instead of waiting out the TTL)."""
        self._generation += 1

    def _stale(self, integration_id: int, now: float) -> bool:
        return (
            integration_id not in self._tenants
            or now - self._loaded > self._settings.relay_config_refresh_seconds
            or self._loaded_generation != self._generation
        )

    async def get(self, integration_id: int) -> Tenant | None:
        """The integration's tenant; None if it is disabled or gone."""
        now = self._clock()
        if self._stale(integration_id, now):
            async with self._lock:
                if self._stale(integration_id, now):
                    await self._load(now)
        tenant = self._tenants.get(integration_id)
        if tenant is None or not tenant.integration.enabled:
            return None
        return tenant

    async def _load(self, now: float) -> None:
        generation = self._generation
        stored = await self._integrations.list()
        fresh: dict[int, Tenant] = {}
        for item in stored:
            integration = item.integration
            # Exported at 0 from the start, so the alert on it sees every integration.
            self._metrics.customer_commands_dead.labels(integration.name)
            current = self._tenants.get(integration.id)
            if current is not None and current.integration.updated_at == integration.updated_at:
                fresh[integration.id] = current
                continue
            if current is not None:
                await current.sender.close()
            br, sitoo = integration.bloomreach, integration.sitoo
            project = BloomreachProject(
                br.api_base_url, br.project_token, br.api_key_id, br.api_secret or ""
            )
            account = SitooAccount(
                sitoo.api_base_url, sitoo.account_id, sitoo.api_id, sitoo.api_password or ""
            )
            fresh[integration.id] = Tenant(
                integration=integration,
                sitoo=SitooClient(self._http, account),
                sender=ProjectSender(
                    BloomreachClient(self._http, project),
                    self._settings,
                    self._metrics,
                    on_outcome=self._outcome_feed(integration),
                ),
                rule=CustomerRule(integration.hard_id_name, integration.hard_id_source_field),
            )
        self._tenants = fresh
        self._loaded = now
        self._loaded_generation = generation

    def _outcome_feed(self, integration: Integration) -> Callable[[bool], None] | None:
        """The relay's Bloomreach outcomes go to the project's circuit breaker, so the tills
        learn of an outage the relay saw (the relay itself is never short-circuited)."""
        breakers = self._breakers
        if breakers is None:
            return None
        return lambda success: breakers.record(integration, success=success)

    async def close(self) -> None:
        for tenant in self._tenants.values():
            await tenant.sender.close()
