"""A database outage that escapes a handler is retryable for the caller (UNAVAILABLE, the edge's
503), while data the database refused is our bug (INTERNAL)."""

from __future__ import annotations

import grpc

from core_service.domain import errors
from core_service.grpc_api.calls import status_for


def test_an_unreachable_database_tells_the_caller_to_retry() -> None:
    assert status_for(errors.StorageUnavailable("down")) == grpc.StatusCode.UNAVAILABLE
    assert status_for(errors.ConnectionLost("dropped")) == grpc.StatusCode.UNAVAILABLE


def test_refused_data_is_an_internal_error() -> None:
    assert status_for(errors.DataRejected("constraint")) == grpc.StatusCode.INTERNAL
