"""`sitoo-bloomreach migrate`: bring the database to the code's revision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from core_service.adapters.db.engine import create_engine
from core_service.adapters.db.startup import wait_until_reachable

if TYPE_CHECKING:
    from alembic.config import Config


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


# Alembic is imported where a migration runs, not with this module: every process imports
# the CLI (cli/main.py), and Alembic would stay resident in the serving ones for nothing
# (about 11 MB with Mako and Pygments; core_service/adapters/db/schema_version.py).
def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    _run(url, lambda config: command.downgrade(config, revision))


def _run(url: str, action: Callable[[Config], None]) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:

                def migrate(sync_connection: Connection) -> None:
                    from core_service.adapters.db.migration_config import alembic_config

                    config = alembic_config(url)
                    config.attributes["connection"] = sync_connection
                    action(config)

                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(go())
