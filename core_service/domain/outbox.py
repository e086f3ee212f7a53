"""What operators read of the outbox and the quarantine: read models, not database rows, so
the gRPC layer depends on neither SQLAlchemy nor the schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


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
    order_key: str  # a customer message's key is a keyed digest, never the customer id
    state: str
    attempts: int
    available_at: float
    last_error: str | None
    skip_reason: str | None
    created_at: float
    updated_at: float
    payload: Mapping[str, Any]
    kind: str = "order"  # or "customer": commands not tied to an order


@dataclass(frozen=True)
class QuarantineEntry:
    """One malformed webhook body, kept verbatim."""

    id: int
    integration: str
    received_at: float
    reason: str
    raw_body: bytes
    request_id: str


# Outbox message kinds: an order to fetch and track, or a customer's queued commands (keyed
# per integration and customer, delivered in order; adapters/db/customer_commands.py).
ORDER = "order"
CUSTOMER = "customer"


# ---- the relay's claim / complete protocol (services/ports.py's RelayStore) ----

# Set on a claimed payload whose sealed commands could not be opened (the relay makes the
# message dead rather than rebuild, and so perhaps change, what Bloomreach may have stored).
UNREADABLE = "unreadable_commands"


@dataclass(frozen=True)
class Claimed:
    """One message the relay holds under its claim token, payload opened."""

    id: int
    integration_id: int
    order_key: str
    payload: dict[str, Any]
    attempts: int
    generation: int
    claim_token: str
    kind: str = "order"


@dataclass(frozen=True)
class Completion:
    """What happened to one claimed message."""

    message: Claimed
    state: Literal["delivered", "skipped", "retry", "dead"]
    error: str = ""
    skip_reason: str = ""
    available_at: float = 0.0
    payload: dict[str, Any] | None = None  # replaces the payload when set
    # Skips decided on the order's state (e.g. still open) are re-run if events arrived
    # meanwhile; "already tracked" is final whatever arrives.
    final: bool = True
    tracked: dict[str, Any] = field(default_factory=dict)  # purchase_id, kind, commands
