"""The repositories' boundary: a database failure leaves a repository as a domain storage
error (the services and the gRPC layer never see SQLAlchemy), on both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from cli import migrate
from core_service.adapters.db.credential_verifiers_repo import CredentialVerifiersRepository
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.errors import storage_error
from core_service.adapters.db.inbox_repo import InboxEntry, InboxRepository, InboxWrite
from core_service.domain.errors import (
    ConnectionLost,
    DataRejected,
    StorageError,
    StorageUnavailable,
)
from core_service.domain.orders import OrderRef


def test_a_missing_table_is_storage_unavailable(database_url: str) -> None:
    async def go() -> None:
        engine = create_engine(database_url)  # never migrated: no tables at all
        try:
            with pytest.raises(StorageUnavailable) as raised:
                await CredentialVerifiersRepository(session_factory(engine)).all()
        finally:
            await engine.dispose()
        assert not isinstance(raised.value, ConnectionLost)
        assert raised.value.cause in {"OperationalError", "ProgrammingError"}
        assert "SELECT" not in str(raised.value)  # no SQL reaches a caller
        assert isinstance(raised.value.__cause__, DBAPIError)

    asyncio.run(go())


def test_a_write_the_database_refuses_is_data_rejected(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        engine = create_engine(database_url)
        repo = InboxRepository(session_factory(engine))
        entry = InboxEntry("e1", "order", 1_700_000_000, OrderRef(1, 1, 100))
        try:
            # No integration 99: its foreign key fails in the database.
            with pytest.raises(DataRejected) as raised:
                await repo.record_many([InboxWrite(99, [entry])], 1.0)
        finally:
            await engine.dispose()
        assert isinstance(raised.value, StorageError)
        assert not isinstance(raised.value, StorageUnavailable)
        assert raised.value.cause == "IntegrityError"

    asyncio.run(go())


class _DriverError(Exception):
    pass


def test_the_translation_checks_a_dropped_connection_first() -> None:
    dropped = IntegrityError("INSERT", {}, _DriverError(), connection_invalidated=True)
    assert type(storage_error(dropped)) is ConnectionLost
    refused = DataError("INSERT", {}, _DriverError())
    assert type(storage_error(refused)) is DataRejected
    down = OperationalError("SELECT", {}, _DriverError())
    assert type(storage_error(down)) is StorageUnavailable
    assert type(storage_error(ConnectionRefusedError())) is StorageUnavailable
    assert storage_error(down).cause == "OperationalError"
