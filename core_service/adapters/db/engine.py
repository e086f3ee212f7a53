"""Engine creation (the schema-version gate is schema_version.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; FULL makes each commit durable before we
    # acknowledge a webhook; the busy timeout rides out short write contention.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine.sync_engine.pool, "checkin", _idle_since)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


# SQLAlchemy's pool_pre_ping costs three round trips (BEGIN, SELECT, ROLLBACK) on asyncpg at
# every checkout, as much as the webhook's whole transaction. A connection back in the pool
# less than this long ago was just used successfully, so only older ones are pinged. If the
# server restarts under load, the first statement on a stale connection fails (the caller
# answers 503 or retries) and SQLAlchemy then discards every older connection of the pool.
PING_AFTER_IDLE_S = 2.0


def _idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # the pool replaces the connection and tries again
        raise DisconnectionError("stale pooled connection") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
