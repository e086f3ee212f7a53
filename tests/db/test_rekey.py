"""Master-key rotation on both databases, through the real composition root: after `rekey`,
the new key alone opens every secret, the old key alone opens nothing, and the credentials
Sitoo already holds keep working (their verifier key is not re-derived from the new key)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from cli import migrate
from cli.rekey import rekey_command
from core_service.adapters.db.relay_repo import RelayRepository
from core_service.adapters.db.validation_repo import ValidationRepository
from core_service.bootstrap import build_core
from core_service.crypto import MasterKey, MasterKeyError
from core_service.services.integrations import IntegrationSettings
from harness.databases import query_rows
from runtime.settings import Settings

OLD, NEW = MasterKey.generate(), MasterKey.generate()
PURCHASE = {"commands": [{"customer_ids": {"registered": "anna@example.se"}}], "purchase": {}}


def _settings(url: str, tmp: Path, key: str, previous: str | None = None) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp,
        master_key=SecretStr(key),
        master_key_previous=SecretStr(previous) if previous else None,
    )


def _basic(user: str, password: str) -> str:
    return aiohttp.encode_basic_auth(user, password)


async def _set_up(settings: Settings) -> tuple[str, str]:
    core = await build_core(settings)
    try:
        _, issued = await core.integrations.create(
            "acme",
            IntegrationSettings(bloomreach_api_secret="br-secret", sitoo_api_password="sitoo-pw"),
        )
        integration = await core.integrations.get("acme")
        await ValidationRepository(core.sessions, core.box).enqueue(
            integration.id, "1500:1:7", PURCHASE, 1.0
        )
        return issued.webhook_username, issued.webhook_password or ""
    finally:
        await core.close()


async def _everything_opens(settings: Settings, webhook: tuple[str, str]) -> None:
    core = await build_core(settings)
    try:
        integration = await core.integrations.authenticate("acme", "webhook", _basic(*webhook))
        assert integration.bloomreach.api_secret == "br-secret"
        assert integration.sitoo.api_password == "sitoo-pw"
        (claimed,) = await RelayRepository(core.sessions, core.box).claim(10, 60, 2.0)
        assert claimed.payload == PURCHASE
    finally:
        await core.close()


def await_rows(url: str, query: str) -> list[tuple[object, ...]]:
    return asyncio.run(query_rows(url, query))


def _refused(settings: Settings) -> None:
    async def go() -> None:
        core = await build_core(settings)
        await core.close()

    with pytest.raises(MasterKeyError, match="not the key"):
        asyncio.run(go())


def test_rekey_moves_every_secret_to_the_new_key(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.upgrade(database_url)
    webhook = asyncio.run(_set_up(_settings(database_url, tmp_path, OLD)))

    # The new key alone does not open the database until it has been rekeyed ...
    _refused(_settings(database_url, tmp_path, NEW))
    # ... but beside the old one it does, before and after the rekey.
    assert rekey_command(_settings(database_url, tmp_path, NEW, previous=OLD)) == 0
    report = capsys.readouterr().out
    assert "installation keys    resealed       3" in report  # + the card index key
    assert "integration secrets  resealed       2" in report
    assert "outbox commands      resealed       1" in report
    assert "can be removed" in report

    stored = str(
        await_rows(database_url, "SELECT bloomreach_api_secret_enc FROM integrations")
        + await_rows(database_url, "SELECT value FROM meta")
        + await_rows(database_url, "SELECT payload FROM outbox_messages")
    )
    new_id, old_id = MasterKey.parse(NEW).key_id, MasterKey.parse(OLD).key_id
    assert f"v1:{new_id}:" in stored
    assert f"v1:{old_id}:" not in stored

    asyncio.run(_everything_opens(_settings(database_url, tmp_path, NEW), webhook))
    _refused(_settings(database_url, tmp_path, OLD))

    # Done twice, a rekey finds everything current.
    assert rekey_command(_settings(database_url, tmp_path, NEW, previous=OLD)) == 0
    assert "resealed       0   already current       2" in capsys.readouterr().out
