"""`sitoo-bloomreach migrate`: bring the database to the code's revision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from core_service.adapters.db.engine import alembic_config, create_engine
from core_service.adapters.db.startup import wait_until_reachable


def wait_for_database(url: str, timeout_s: float) -> None:
    """Like the services: a migration job started beside a database that is still coming up
    waits for it, then fails with one line naming the setting (exit 78)."""

    async def go() -> None:
        engine = create_engine(url)
        try:
            await wait_until_reachable(engine, timeout_s)
        finally:
            await engine.dispose()

    asyncio.run(go())


def upgrade(url: str, revision: str = "head") -> None:
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    _run(url, lambda config: command.downgrade(config, revision))


def _run(url: str, action: Callable[[Config], None]) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:

                def migrate(sync_connection: Connection) -> None:
                    config = alembic_config(url)
                    config.attributes["connection"] = sync_connection
                    action(config)

                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(go())
