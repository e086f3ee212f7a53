"""The ports the services depend on: what they need of storage and time, as Protocols.

The adapters in ``core_service/adapters`` satisfy them structurally (no inheritance), and
``core_service/bootstrap.py`` wires the concrete ones; tests hand in-memory fakes to the same
services (tests/unit/test_ingest_service.py). Every method may raise the domain's
``StorageError`` kinds (``domain/errors.py``), never a database library's exceptions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from core_service.domain.api_clients import StoredClient
from core_service.domain.backfill import JobState
from core_service.domain.card_cache import CachedCard, CacheStats
from core_service.domain.customer import Customer
from core_service.domain.inbox import InboxEntry, InboxWrite, QuarantineCaps, QuarantineResult
from core_service.domain.integration import Integration
from core_service.domain.loyalty import LedgerChange, Redemption
from core_service.domain.orders import OrderRef
from core_service.domain.outbox import (
    Claimed,
    Completion,
    OutboxEntry,
    OutboxStats,
    QuarantineEntry,
)
from core_service.domain.stored_integration import CredentialVerifiers, StoredIntegration
from core_service.domain.validation import Check, MessageFate, Report

# Seconds since the epoch, as ``time.time``; injected so tests decide what "now" is.
Clock = Callable[[], float]


class InboxStore(Protocol):
    """The webhook's writes (adapters/db/inbox_repo.py)."""

    async def record(
        self, integration_id: int, entries: Sequence[InboxEntry], now: float
    ) -> set[str]:
        """One batch in one transaction; the event ids that were new."""
        ...

    async def record_many(self, writes: Sequence[InboxWrite], now: float) -> list[set[str]]:
        """Several batches in one transaction, as if committed one after the other; raises
        ``DataRejected`` for the whole group if any batch's data is refused."""
        ...

    async def quarantine(
        self,
        integration_id: int,
        reason: str,
        raw_body: bytes,
        *,
        request_id: str,
        now: float,
        caps: QuarantineCaps,
    ) -> QuarantineResult: ...


class OutboxStatsSource(Protocol):
    """Outbox depth by state, for the gauges."""

    async def stats(self, integration: str | None, now: float | None = None) -> OutboxStats: ...


class OutboxAdmin(OutboxStatsSource, Protocol):
    """The operator's view and repair of the outbox and quarantine
    (adapters/db/outbox_repo.py)."""

    async def list(
        self, integration: str | None, state: str | None, limit: int, after_id: int
    ) -> Sequence[OutboxEntry]: ...

    async def get(self, message_id: int) -> OutboxEntry: ...

    async def replay_dead(
        self, *, message_id: int | None, integration: str | None, now: float | None = None
    ) -> int: ...

    async def list_quarantine(
        self, integration: str | None, limit: int
    ) -> Sequence[QuarantineEntry]: ...

    async def get_quarantined(self, payload_id: int) -> QuarantineEntry: ...


class RelayStore(Protocol):
    """The relay's side of the outbox (adapters/db/relay_repo.py): claim due messages under a
    lease and a claim token; every later write is guarded by that token, so a worker whose
    lease expired changes nothing."""

    async def claim(self, limit: int, lease_s: float, now: float) -> list[Claimed]: ...

    async def tracked(self, integration_id: int, order_keys: Sequence[str]) -> set[str]:
        """The order keys already delivered (``tracked_orders``)."""
        ...

    async def prepare(
        self, items: Sequence[tuple[Claimed, dict[str, Any]]], now: float
    ) -> set[int]:
        """Store prepared commands (sealed); the message ids still held by their claim."""
        ...

    async def complete(self, completions: Sequence[Completion], now: float) -> list[bool]:
        """Apply outcomes in one transaction; False where the claim was lost."""
        ...


class CustomerCommandQueue(Protocol):
    """A customer's Bloomreach commands queued in the outbox (kind ``customer``), delivered
    by the relay in order (adapters/db/customer_commands.py's CustomerCommandRepository; in
    another repository's transaction, call ``enqueue_customer_commands`` there instead)."""

    async def enqueue(
        self,
        *,
        integration_id: int,
        customer_id: str,
        commands: Sequence[Mapping[str, Any]],
        now: float,
    ) -> int:
        """Queue ``commands`` (deterministic, distinct ``command_id``s) after whatever the
        customer has queued already; the message id."""
        ...

    async def pending(self, integration_id: int, customer_id: str) -> bool:
        """Whether the customer has commands not yet delivered (read your writes)."""
        ...

    async def any_pending(self, integration_id: int) -> bool:
        """Whether any customer of the integration has commands not yet delivered."""
        ...


class IntegrationLister(Protocol):
    """Every integration, for the relay's settings cache."""

    async def list(self) -> Sequence[StoredIntegration]: ...


class IntegrationStore(IntegrationLister, Protocol):
    """Integrations with their secrets sealed at rest (adapters/db/integrations_repo.py).
    Changes are column values; ``seal`` seals a secret for one integration's column."""

    async def add(self, columns: Mapping[str, object]) -> StoredIntegration:
        """Raises ``AlreadyExists`` for a taken name."""
        ...

    async def get(self, name: str) -> StoredIntegration:
        """Raises ``NotFound`` for an unknown name."""
        ...

    async def modify(self, name: str, changes: dict[str, object]) -> StoredIntegration: ...

    async def delete(self, name: str) -> None: ...

    def seal(self, name: str, column: str, secret: str) -> str: ...


class CredentialVerifierSource(Protocol):
    """The verifiers of every integration, in one read
    (adapters/db/credential_verifiers_repo.py)."""

    async def all(self) -> dict[str, CredentialVerifiers]: ...


class RetentionStore(Protocol):
    """The purge's two queries per table of ``domain.retention.PURGED_TABLES``
    (adapters/db/retention_repo.py)."""

    async def delete_chunk(self, table_name: str, cutoff: float, limit: int) -> int:
        """At most ``limit`` rows older than ``cutoff``, in one transaction; how many went."""
        ...

    async def count(self, table_name: str, cutoff: float) -> int: ...


class RekeyStore(Protocol):
    """Reseals every sealed value under the current key, by kind; each tally counts
    ``resealed``, ``changed_meanwhile`` and ``unreadable`` (adapters/db/rekey_repo.py)."""

    async def meta(self) -> Counter[str]: ...

    async def integrations(self) -> Counter[str]: ...

    async def outbox(
        self, *, chunk: int = 500, progress: Callable[[Counter[str]], None] | None = None
    ) -> Counter[str]: ...

    async def card_cache(self, *, chunk: int = 500) -> Counter[str]:
        """Cached cards; those no configured key opens are deleted (tally ``dropped``)."""
        ...


class ApiClientStore(Protocol):
    """API clients and their token verifiers (adapters/db/api_clients_repo.py)."""

    async def create(
        self,
        name: str,
        scopes: frozenset[str],
        tls_subject: str | None,
        *,
        key_id: str,
        verifier: str,
        now: float,
    ) -> StoredClient:
        """Raises ``AlreadyExists`` for a taken name."""
        ...

    async def get(self, name: str) -> StoredClient: ...

    async def list_clients(self) -> list[StoredClient]: ...

    async def add_token(
        self, name: str, key_id: str, verifier: str, now: float, old_until: float
    ) -> StoredClient: ...

    async def revoke_old(self, name: str) -> StoredClient: ...

    async def delete(self, name: str) -> None: ...


# ---- backfill and validation (issue 13: the last services off concrete repositories but
# the relay's) ----


class BackfillStore(Protocol):
    """Backfill's and reconcile's job cursors and enqueueing (adapters/db/backfill_repo.py).
    An order is *known* once tracked or ever given a message; only unknown ones are enqueued."""

    async def start(
        self, integration_id: int, kind: str, date_from: int, date_to: int, now: float
    ) -> JobState:
        """The window's job: continued where it stopped, or begun again once finished."""
        ...

    async def unknown(self, integration_id: int, refs: Sequence[OrderRef]) -> list[OrderRef]:
        """The orders of ``refs`` never tracked and never given a message (dry run)."""
        ...

    async def open_messages(self, integration_id: int) -> int:
        """Pending or in-flight messages of the integration (back-pressure)."""
        ...

    async def record_page(
        self,
        job_id: int | None,
        integration_id: int,
        refs: Sequence[OrderRef],
        cursor_order_id: int,
        now: float,
    ) -> list[OrderRef]:
        """Enqueue the page's unknown orders and move the job's cursor (none for
        ``job_id=None``, reconcile) in one transaction; the orders enqueued."""
        ...

    async def finish(self, job_id: int, now: float) -> None: ...


class ValidationStore(Protocol):
    """Validation's test order through the real outbox, and the kept reports
    (adapters/db/validation_repo.py)."""

    async def enqueue(
        self, integration_id: int, order_key: str, payload: dict[str, Any], now: float
    ) -> int:
        """A pending message with prepared commands; its id."""
        ...

    async def fate(self, message_id: int) -> MessageFate | None: ...

    async def record_run(
        self, integration_id: int, ran_at: float, passed: bool, checks: Sequence[Check]
    ) -> None: ...

    async def last_run(self, integration_id: int) -> Report | None: ...


class CardCache(Protocol):
    """The customer cards the core last built, sealed at rest (issue 15;
    adapters/db/card_cache_repo.py). Reads see only the integration's own, live cards."""

    async def remember(self, integration: Integration, card: Customer, *, now: float) -> None: ...

    async def recall_by_id(
        self, integration: Integration, customer_id: str, *, now: float
    ) -> Customer | None: ...

    async def recall_by_key(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> Customer | None: ...


class CardCacheStore(CardCache, Protocol):
    """The card cache as the read-through service and the operator use it."""

    async def remember_many(
        self, cards: Sequence[tuple[Integration, Customer]], *, now: float
    ) -> None:
        """Several cards in one transaction (the group commit of fresh cards)."""
        ...

    async def find(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> CachedCard | None:
        """Like ``recall_by_key``, with when the card was stored."""
        ...

    async def stats(self, integration: Integration, *, now: float) -> CacheStats: ...

    async def purge(self, integration: Integration) -> int: ...


class LoyaltyLedger(Protocol):
    """The redemption ledger (adapters/db/loyalty_repo.py), keyed by a digest of the customer."""

    def customer_key(self, integration_id: int, customer_id: str) -> str: ...

    async def redeemed(self, integration_id: int, customer_id: str) -> frozenset[tuple[str, str]]:
        """(kind, item id) of the customer's offers redeemed now."""
        ...

    async def apply(
        self,
        redemption: Redemption,
        commands: Callable[[Sequence[LedgerChange]], list[dict[str, Any]]],
    ) -> list[LedgerChange]:
        """All items changed, with the events ``commands`` builds queued in the same
        transaction, or none (``InvalidArgument`` naming the refused item)."""
        ...
