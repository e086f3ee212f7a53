"""The stairway: every revision upgrades, downgrades and upgrades again, on both databases;
and the models never drift from what the revisions build."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from cli import migrate
from core_service.adapters.db.engine import create_engine
from core_service.adapters.db.migration_config import alembic_config
from core_service.adapters.db.models import Base
from core_service.adapters.db.schema_version import current_revision, head_revision


def _revisions(url: str) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _tables(url: str) -> set[str]:
    async def go() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        finally:
            await engine.dispose()
        return names

    return asyncio.run(go())


def _model_drift(url: str) -> list[object]:
    async def go() -> list[object]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def diff(sync_connection: Connection) -> list[object]:
                    context = MigrationContext.configure(
                        sync_connection, opts={"compare_type": True}
                    )
                    return list(compare_metadata(context, Base.metadata))

                return await connection.run_sync(diff)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_stairway(database_url: str) -> None:
    revisions = _revisions(database_url)
    assert revisions, "no revisions found"
    previous = "base"
    for revision in revisions:
        migrate.upgrade(database_url, revision)
        migrate.downgrade(database_url, previous)
        migrate.upgrade(database_url, revision)
        previous = revision
    assert {
        "integrations",
        "inbox_events",
        "outbox_messages",
        "quarantine",
        "api_clients",
        "api_client_tokens",
    } <= _tables(database_url)
    migrate.downgrade(database_url, "base")
    assert _tables(database_url) <= {"alembic_version"}


def test_models_match_the_revisions(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert _model_drift(database_url) == []


def _recorded(url: str) -> tuple[str | None, str | None]:
    """The database's revision as Alembic reads it, and as the serving processes do."""

    async def go() -> tuple[str | None, str | None]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda c: (
                        MigrationContext.configure(c).get_current_revision(),
                        current_revision(c),
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_the_serving_processes_read_the_revisions_as_alembic_does(database_url: str) -> None:
    # schema_version.py reads the ids without Alembic; it must never disagree with it.
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert head_revision() == script.get_current_head()
    assert _recorded(database_url) == (None, None)
    revisions = _revisions(database_url)
    for revision in (revisions[0], revisions[-1]):
        migrate.upgrade(database_url, revision)
        assert _recorded(database_url) == (revision, revision)
    migrate.downgrade(database_url, "base")
    assert _recorded(database_url) == (None, None)
