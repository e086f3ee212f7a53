"""The ports the services depend on: what they need of storage and time, as Protocols.

The adapters in ``core_service/adapters`` satisfy them structurally (no inheritance), and
``core_service/bootstrap.py`` wires the concrete ones; tests hand in-memory fakes to the same
services (tests/unit/test_ingest_service.py). Every method may raise the domain's
``StorageError`` kinds (``domain/errors.py``), never a database library's exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core_service.domain.inbox import InboxEntry, InboxWrite, QuarantineCaps, QuarantineResult
from core_service.domain.outbox import OutboxEntry, OutboxStats, QuarantineEntry

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
