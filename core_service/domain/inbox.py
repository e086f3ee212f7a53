"""The Events SPI inbox's records: what one webhook batch writes and what the quarantine keeps.
Plain values, shared by the ingest service and the repository that stores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core_service.domain.orders import OrderRef


@dataclass(frozen=True)
class InboxEntry:
    event_id: str
    event_type: str
    event_date: int
    order: OrderRef | None  # set for events that announce an order change

    @property
    def outcome(self) -> str:
        return "accepted" if self.order is not None else "ignored"


@dataclass(frozen=True)
class QuarantineCaps:
    """Per integration: at most this many bodies, of at most this many bytes in all."""

    max_bodies: int
    max_bytes: int


@dataclass(frozen=True)
class QuarantineResult:
    id: int
    dropped: int  # older bodies deleted to stay within the caps
    dropped_bytes: int


@dataclass(frozen=True)
class InboxWrite:
    """One webhook batch: its integration and its events."""

    integration_id: int
    entries: Sequence[InboxEntry]
