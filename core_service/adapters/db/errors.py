"""SQLAlchemy's and the drivers' exceptions, translated into the domain's storage errors at
the repository boundary, so that services and the gRPC layer never import SQLAlchemy."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from core_service.domain.errors import (
    ConnectionLost,
    DataRejected,
    StorageError,
    StorageUnavailable,
)

P = ParamSpec("P")
T = TypeVar("T")

UNAVAILABLE = "the database is unavailable, retry later"


def storage_error(exc: SQLAlchemyError | OSError) -> StorageError:
    """The domain error for a database failure.

    A dropped connection is checked first (any DBAPI error can carry it), then refused data,
    then anything else SQLAlchemy or the socket raised."""
    cause = type(exc).__name__
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return ConnectionLost(UNAVAILABLE, cause)
    if isinstance(exc, IntegrityError | DataError):
        return DataRejected("the database refused the data", cause)
    return StorageUnavailable(UNAVAILABLE, cause)


def translated(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Let a repository coroutine raise domain storage errors instead of SQLAlchemy's."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except (SQLAlchemyError, OSError) as exc:
            raise storage_error(exc) from exc

    return wrapper
