"""The relay's settings cache over the real integrations table: fresh for its TTL, re-read at
once when told (SIGHUP), and never taking a read that began before the change as fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import text

from cli import migrate
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.integrations_repo import IntegrationRepository
from core_service.adapters.http_client import HttpClients
from core_service.crypto import MasterKey, SecretBox
from core_service.domain.stored_integration import StoredIntegration
from core_service.metrics import CoreMetrics
from core_service.services.relay_tenants import TenantCache
from harness.databases import SEED_INTEGRATION_SQL, seed_integration_params
from runtime.settings import Settings

BOX = SecretBox(MasterKey.parse(MasterKey.generate()))


class GatedRepository(IntegrationRepository):
    """The real repository; each read can be held after the rows are fetched (a slow read)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fetched = asyncio.Event()

    async def list(self) -> Sequence[StoredIntegration]:
        rows = await super().list()
        self.reads += 1
        self.fetched.set()
        await self.gate.wait()
        return rows


async def _company(cache: TenantCache) -> str:
    tenant = await cache.get(1)
    assert tenant is not None
    return tenant.integration.company


def test_settings_cache_is_fresh_for_its_ttl_and_reread_when_told(sqlite_database_url: str) -> None:
    url = sqlite_database_url
    migrate.upgrade(url)

    async def go() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
        repo = GatedRepository(session_factory(engine), BOX)
        now = [100.0]
        http = HttpClients()
        cache = TenantCache(
            repo,
            http,
            Settings(relay_config_refresh_seconds=30.0),
            CoreMetrics.create(),
            lambda: now[0],
        )
        try:
            assert await _company(cache) == ""
            await repo.modify("acme", {"company": "Acme AB", "updated_at": 1.0})
            now[0] += 10.0
            assert await _company(cache) == ""  # within the TTL: cached
            assert repo.reads == 1
            now[0] += 25.0
            assert await _company(cache) == "Acme AB"  # TTL passed
            assert repo.reads == 2

            # Told at once, within the TTL.
            await repo.modify("acme", {"company": "Acme Group", "updated_at": 2.0})
            cache.settings_changed()
            assert await _company(cache) == "Acme Group"
            assert repo.reads == 3

            # A read that fetched the rows before the change does not count as fresh.
            cache.settings_changed()
            repo.gate.clear()
            repo.fetched.clear()
            slow = asyncio.ensure_future(_company(cache))
            await repo.fetched.wait()
            await repo.modify("acme", {"company": "Acme Holding", "updated_at": 3.0})
            cache.settings_changed()
            repo.gate.set()
            assert await slow == "Acme Group"
            assert await _company(cache) == "Acme Holding"
            assert repo.reads == 5
        finally:
            await cache.close()
            await http.close()
            await engine.dispose()

    asyncio.run(go())


def test_a_disabled_or_missing_integration_has_no_tenant(sqlite_database_url: str) -> None:
    migrate.upgrade(sqlite_database_url)

    async def go() -> None:
        engine = create_engine(sqlite_database_url)
        async with engine.begin() as connection:
            await connection.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
        repo = IntegrationRepository(session_factory(engine), BOX)
        http = HttpClients()
        cache = TenantCache(repo, http, Settings(), CoreMetrics.create(), lambda: 0.0)
        try:
            assert await cache.get(2) is None
            await repo.modify("acme", {"enabled": False, "updated_at": 1.0})
            cache.settings_changed()
            assert await cache.get(1) is None
        finally:
            await cache.close()
            await http.close()
            await engine.dispose()

    asyncio.run(go())
