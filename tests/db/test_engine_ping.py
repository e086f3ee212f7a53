"""Pooled PostgreSQL connections: idle ones are pinged at checkout (a server restart costs no
request), busy ones are not (a ping is three round trips); after a failure on a stale
connection the pool discards the rest."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core_service.adapters.db import engine as engine_module
from core_service.adapters.db.engine import create_engine
from harness.databases import kill_backends, postgres_database

pytestmark = pytest.mark.postgres


async def _select_one(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT 1"))).scalar_one())


def test_idle_connections_are_pinged_and_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    with postgres_database() as url:

        async def go() -> None:
            engine = create_engine(url, pool_size=2)
            try:
                assert await _select_one(engine) == 1
                await kill_backends(url.rsplit("/", 1)[1])
                assert await _select_one(engine) == 1  # pinged, replaced, no error
            finally:
                await engine.dispose()

        asyncio.run(go())


def test_recently_used_connections_fail_once_then_the_pool_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)
    with postgres_database() as url:

        async def go() -> None:
            engine = create_engine(url, pool_size=2)
            try:
                assert await _select_one(engine) == 1
                await kill_backends(url.rsplit("/", 1)[1])
                with pytest.raises(DBAPIError):
                    await _select_one(engine)
                assert await _select_one(engine) == 1
            finally:
                await engine.dispose()

        asyncio.run(go())
