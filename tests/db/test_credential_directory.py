"""The credential directory over a real database (both engines), through the composition root:
made-up integration names never reach the database per request (one read of all verifiers
serves every name for a while), they are checked against a dummy verifier like a wrong
password, and this process's own changes are seen at once."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from cli import migrate
from core_service.adapters.db.credential_verifiers_repo import CredentialVerifiersRepository
from core_service.bootstrap import Core, build_core
from core_service.crypto import MasterKey
from core_service.domain.errors import Unauthenticated, UnknownIntegration
from core_service.services.credential_directory import CredentialDirectory
from core_service.services.integrations import IntegrationSettings
from runtime.settings import Settings


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _loads(core: Core) -> float:
    name = "core_sitoo_credential_directory_loads_total"
    return core.metrics.registry.get_sample_value(name) or 0.0


def _checks(core: Core) -> float:
    return core.metrics.registry.get_sample_value("core_sitoo_credential_checks_total") or 0.0


@pytest.fixture
async def core(database_url: str, tmp_path: Path) -> AsyncIterator[Core]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        master_key=SecretStr(MasterKey.generate()),
        sitoo_credential_cache_seconds=300,  # no expiry during a test
    )
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    built = await build_core(settings)
    yield built
    await built.close()


async def test_made_up_names_do_not_reach_the_database(core: Core) -> None:
    _, issued = await core.integrations.create("acme", IntegrationSettings())
    loads = _loads(core)

    async def refuse(name: str, user: str) -> type[Exception]:
        with pytest.raises(Unauthenticated) as refused:
            await core.integrations.authenticate(name, "spi", _basic(user, "wrong"))
        return type(refused.value)

    # A burst of new names and wrong passwords at once: one read of the verifiers for all.
    names = [f"shop-{secrets.token_hex(4)}" for _ in range(40)]
    kinds = await asyncio.gather(
        *(refuse(name, f"{name}-spi") for name in names),
        *(refuse("acme", issued.spi_username) for _ in range(40)),
    )
    assert kinds == [UnknownIntegration] * 40 + [Unauthenticated] * 40
    assert _loads(core) - loads == 1
    assert _checks(core) == 80  # every request ran the same check, unknown names included
    for _ in range(20):
        await refuse(f"shop-{secrets.token_hex(4)}", "x")
    assert _loads(core) - loads == 1


async def test_changes_made_here_are_seen_at_once(core: Core) -> None:
    with pytest.raises(UnknownIntegration):
        await core.integrations.authenticate("acme", "spi", _basic("acme-spi", "x"))
    _, issued = await core.integrations.create("acme", IntegrationSettings())
    spi = _basic(issued.spi_username, issued.spi_password or "")
    assert (await core.integrations.authenticate("acme", "spi", spi)).name == "acme"

    rotated = await core.integrations.rotate_credentials("acme", spi=True, webhook=False)
    with pytest.raises(Unauthenticated) as refused:
        await core.integrations.authenticate("acme", "spi", spi)
    assert not isinstance(refused.value, UnknownIntegration)
    spi = _basic(rotated.spi_username, rotated.spi_password or "")
    assert (await core.integrations.authenticate("acme", "spi", spi)).name == "acme"

    await core.integrations.update("acme", IntegrationSettings(enabled=False))
    with pytest.raises(Unauthenticated, match="disabled"):
        await core.integrations.authenticate("acme", "spi", spi)

    await core.integrations.delete("acme")
    with pytest.raises(UnknownIntegration):
        await core.integrations.authenticate("acme", "spi", spi)


async def test_the_copy_expires_after_the_ttl(core: Core) -> None:
    now = [1000.0]
    directory = CredentialDirectory(
        CredentialVerifiersRepository(core.sessions).all,
        core.box,
        ttl=5.0,
        metrics=core.metrics,
        clock=lambda: now[0],
    )
    assert await directory.find("ghost") is None
    now[0] += 4.9
    assert await directory.find("other-ghost") is None
    assert _loads(core) == 1
    now[0] += 0.2
    assert await directory.find("ghost") is None
    assert _loads(core) == 2
    # The dummy check never succeeds, whatever is presented.
    assert not directory.check(None, "spi", "", "")
