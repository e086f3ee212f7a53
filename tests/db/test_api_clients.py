"""API clients on both databases, through the real composition root: tokens are stored only as
verifiers, rotation overlaps, and two cores sharing a database (replicas) see each other's
changes — a new client at once, a deletion within the refresh interval — while made-up tokens
do not cost a database read each."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from cli import migrate
from core_service.adapters.db.api_clients_repo import ApiClientRepository
from core_service.bootstrap import Core, build_core
from core_service.crypto import MasterKey
from core_service.domain.api_clients import StoredClient, new_token
from core_service.domain.errors import AlreadyExists, InvalidArgument
from core_service.services.api_clients import ApiClientService
from harness.databases import query_rows
from runtime.settings import Settings

KEY = MasterKey.generate()


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        database_url=url, data_dir=tmp, master_key=SecretStr(KEY), api_client_refresh_seconds=0.3
    )


class CountingRepository(ApiClientRepository):
    """The real repository, counting how often the directory is read."""

    reads = 0

    async def list_clients(self) -> list[StoredClient]:
        self.reads += 1
        return await super().list_clients()


async def _two_cores(url: str, tmp: Path) -> tuple[Core, Core]:
    await asyncio.to_thread(migrate.upgrade, url)
    return await build_core(_settings(url, tmp)), await build_core(_settings(url, tmp))


async def test_tokens_are_stored_as_verifiers_and_rotation_overlaps(
    database_url: str, tmp_path: Path
) -> None:
    one, _ = core = await _two_cores(database_url, tmp_path)
    try:
        client, token = await one.api_clients.create("reporting", ["customers:read"])
        assert client.scopes == frozenset({"customers:read"})
        rows = await query_rows(database_url, "SELECT key_id, verifier FROM api_client_tokens")
        assert len(rows) == 1
        assert rows[0][0] == token[4:16]
        assert token not in rows[0][1] and token[17:] not in rows[0][1]
        identity = await one.api_clients.by_token(token)
        assert identity is not None and identity.name == "reporting"
        assert identity.may("customers:read") and not identity.may("customers:write")
        # A token differing in its secret part only is refused.
        assert (
            await one.api_clients.by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        )

        _, new = await one.api_clients.rotate("reporting", grace_s=3600)
        assert await one.api_clients.by_token(token) is not None  # the overlap
        assert await one.api_clients.by_token(new) is not None
        await one.api_clients.revoke_old("reporting")
        assert await one.api_clients.by_token(token) is None
        assert await one.api_clients.by_token(new) is not None

        with pytest.raises(AlreadyExists):
            await one.api_clients.create("reporting", ["admin"])
        with pytest.raises(InvalidArgument):
            await one.api_clients.create("edge", ["admin"])  # a built-in name
        with pytest.raises(InvalidArgument):
            await one.api_clients.create("other", ["customers:delete"])
    finally:
        for c in core:
            await c.close()


async def test_replicas_see_each_others_changes(database_url: str, tmp_path: Path) -> None:
    one, two = core = await _two_cores(database_url, tmp_path)
    try:
        # `two` has a (stale) snapshot before the client exists.
        assert await two.api_clients.by_token(new_token()[0]) is None
        await asyncio.sleep(1.0)  # past the miss-reload interval of the snapshot above
        _, token = await one.api_clients.create("billing", ["orders:ingest"])
        identity = await two.api_clients.by_token(token)
        assert identity is not None and identity.name == "billing"
        await one.api_clients.delete("billing")
        deadline = time.monotonic() + 10
        while await two.api_clients.by_token(token) is not None:
            assert time.monotonic() < deadline, "the other replica never saw the deletion"
            await asyncio.sleep(0.05)
    finally:
        for c in core:
            await c.close()


async def test_made_up_tokens_do_not_read_the_database_each_time(
    database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, database_url)
    core = await build_core(_settings(database_url, tmp_path))
    try:
        repository = CountingRepository(core.sessions)
        service = ApiClientService(repository, core.box, rotation_grace_s=60, refresh_s=60)
        started = time.monotonic()
        for _ in range(200):
            assert await service.by_token(new_token()[0]) is None
        elapsed = time.monotonic() - started
        # One read for the first snapshot, then at most one per second of misses.
        assert repository.reads <= 2 + int(elapsed)
    finally:
        await core.close()
