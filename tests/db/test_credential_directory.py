"""The credential directory over a real database (both engines), through the composition root:
unknown names are remembered like known ones (bounded, for a short while), a burst for one
name reads the database once, and a name created meanwhile is found at once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from cli import migrate
from core_service.adapters.db.integrations_repo import IntegrationRepository
from core_service.bootstrap import Core, build_core
from core_service.crypto import MasterKey
from core_service.domain.errors import Unauthenticated, UnknownIntegration
from core_service.services.credential_directory import CredentialDirectory
from core_service.services.integrations import IntegrationSettings
from runtime.settings import Settings


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _lookups(core: Core, result: str) -> float:
    value = core.metrics.registry.get_sample_value(
        "core_sitoo_credential_lookups_total", {"result": result}
    )
    return value or 0.0


def _checks(core: Core) -> float:
    return core.metrics.registry.get_sample_value("core_sitoo_credential_checks_total") or 0.0


@pytest.fixture
async def core(database_url: str, tmp_path: Path) -> AsyncIterator[Core]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        master_key=SecretStr(MasterKey.generate()),
        sitoo_credential_cache_max_unknown=3,
    )
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    built = await build_core(settings)
    yield built
    await built.close()


async def test_unknown_names_are_cached_bounded_and_checked(core: Core) -> None:
    wrong = _basic("x-spi", "wrong")

    async def refuse(name: str) -> None:
        with pytest.raises(UnknownIntegration):
            await core.integrations.authenticate(name, "spi", wrong)

    # A burst of requests for one unknown name: one database read, a check for each.
    await asyncio.gather(*(refuse("ghost") for _ in range(50)))
    assert _lookups(core, "missing") == 1
    assert _checks(core) == 50
    for _ in range(10):
        await refuse("ghost")
    assert _lookups(core, "missing") == 1

    # At most three unknown names are remembered: the least recently seen goes first.
    for name in ("a", "b", "c"):
        await refuse(name)
    assert _lookups(core, "missing") == 4
    await refuse("ghost")  # evicted by "c"
    assert _lookups(core, "missing") == 5
    await refuse("c")  # still remembered
    assert _lookups(core, "missing") == 5


async def test_a_created_name_is_not_refused_from_the_cache(core: Core) -> None:
    with pytest.raises(UnknownIntegration):
        await core.integrations.authenticate("acme", "spi", _basic("acme-spi", "x"))
    _, issued = await core.integrations.create("acme", IntegrationSettings())
    found = await core.integrations.authenticate(
        "acme", "spi", _basic(issued.spi_username, issued.spi_password or "")
    )
    assert found.name == "acme"
    with pytest.raises(Unauthenticated) as refused:
        await core.integrations.authenticate("acme", "spi", _basic(issued.spi_username, "x"))
    assert not isinstance(refused.value, UnknownIntegration)


async def test_misses_expire_after_the_ttl(core: Core) -> None:
    now = [1000.0]
    directory = CredentialDirectory(
        IntegrationRepository(core.sessions, core.box).get,
        core.box,
        ttl=5.0,
        metrics=core.metrics,
        clock=lambda: now[0],
    )
    assert await directory.find("ghost") is None
    now[0] += 4.9
    assert await directory.find("ghost") is None
    assert _lookups(core, "missing") == 1
    now[0] += 0.2
    assert await directory.find("ghost") is None
    assert _lookups(core, "missing") == 2
    # The dummy check never succeeds, whatever is presented.
    assert not directory.check(None, "spi", "", "")
