"""What operators read of the outbox and the quarantine: read models, not database rows, so
the gRPC layer depends on neither SQLAlchemy nor the schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutboxStats:
    counts_by_state: dict[str, int]
    oldest_pending_age_seconds: float


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox message as an operator sees it; ``payload`` has its prepared commands
    opened when the key allows (left sealed otherwise)."""

    id: int
    integration: str
    order_key: str
    state: str
    attempts: int
    available_at: float
    last_error: str | None
    skip_reason: str | None
    created_at: float
    updated_at: float
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class QuarantineEntry:
    """One malformed webhook body, kept verbatim."""

    id: int
    integration: str
    received_at: float
    reason: str
    raw_body: bytes
    request_id: str
