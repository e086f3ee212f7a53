"""A fresh database per test, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from core_service.adapters.db.engine import create_engine

# CI starts PostgreSQL on 127.0.0.1:5432 with trust auth (see .ci/run); override for elsewhere.
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """Creates an empty database and yields its SQLAlchemy async URL; drops it afterwards."""
    name = f"sbr_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'test.db'}"


# A bare integration row (no secrets) for repository tests that need its foreign key.
SEED_INTEGRATION_SQL = (
    "INSERT INTO integrations (id, name, display_name, company, market, enabled,"
    " bloomreach_api_base_url, bloomreach_project_token, bloomreach_api_key_id,"
    " hard_id_name, hard_id_source_field, field_mappings, consent_types,"
    " channel_categories, enrichment_rules, sitoo_account_id, sitoo_api_base_url,"
    " sitoo_api_id, sitoo_site_id, spi_username, spi_password_hash,"
    " webhook_username, webhook_password_hash, created_at, updated_at)"
    " VALUES (:id, :name, :display, '', '', true, '', '', '', 'registered', 'email',"
    " '[]', '[]', '{}', '[]', 1, '', '', 1, :spi, 'x', :webhook, 'x', 0, 0)"
)


def seed_integration_params(integration_id: int, name: str) -> dict[str, object]:
    return {
        "id": integration_id,
        "name": name,
        "display": name,
        "spi": f"{name}-spi",
        "webhook": f"{name}-webhook",
    }


async def query_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    """Every row of ``query``, as tuples, on a short-lived engine of its own."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(query))).all()]
    finally:
        await engine.dispose()


async def kill_backends(database: str) -> None:
    """Every server process of ``database`` terminated: a restart, as its pooled clients see it."""
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
