"""Retention: delete rows older than a cut-off in bounded chunks, one short transaction each.

A chunk is ``DELETE … WHERE id IN (SELECT id … WHERE <old> LIMIT n)``, so no transaction
holds locks (or SQLite's single write lock) for long while webhooks and relays write. On
PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED``: purges running at once (one
per relay) take different rows and never wait for each other, and a row is locked (its
condition re-checked on its newest version) before it is deleted, so a row that changed
meanwhile is left alone. The outer DELETE matches by primary key only: repeating the
condition there makes both planners walk every old row for each chunk.

What may go is decided here, once: inbox events and quarantined payloads by ``received_at``;
outbox messages only in the finished states ``delivered`` and ``skipped``, by
``finished_at``. Open (``pending``, ``in_flight``) and ``dead`` messages, and
``tracked_orders``, are never touched. Cached customer cards go once expired (``expires_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.dialect import is_postgres
from core_service.adapters.db.models import (
    CachedCardRow,
    InboxEvent,
    OutboxMessage,
    QuarantinedPayload,
)
from core_service.domain.retention import PURGED_TABLES

FINISHED_STATES = ("delivered", "skipped")

_INBOX: Table = InboxEvent.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_QUARANTINE: Table = QuarantinedPayload.__table__  # type: ignore[assignment]
_CARDS: Table = CachedCardRow.__table__  # type: ignore[assignment]


def _inbox_old(cutoff: float) -> ColumnElement[bool]:
    return _INBOX.c.received_at < cutoff


def _finished_old(cutoff: float) -> ColumnElement[bool]:
    return and_(_OUTBOX.c.state.in_(FINISHED_STATES), _OUTBOX.c.finished_at < cutoff)


def _quarantine_old(cutoff: float) -> ColumnElement[bool]:
    return _QUARANTINE.c.received_at < cutoff


def _card_expired(cutoff: float) -> ColumnElement[bool]:
    # A card's search keys go with it (ON DELETE CASCADE).
    return _CARDS.c.expires_at < cutoff


# Table name (also the metric label) -> (table, "old enough to delete" at a cut-off, the
# order a chunk takes rows in). Oldest first where one index gives that order: PostgreSQL
# then walks the index and stops at the LIMIT (without ORDER BY it may pick a bitmap scan,
# which collects every old row for each chunk). The outbox's (state, finished_at) index
# cannot order two states together, and a plain index scan is what it gets anyway.
_TARGETS: dict[str, tuple[Table, Callable[[float], ColumnElement[bool]], Column[Any] | None]] = {
    "inbox_events": (_INBOX, _inbox_old, _INBOX.c.received_at),
    "outbox_messages": (_OUTBOX, _finished_old, None),
    "quarantine": (_QUARANTINE, _quarantine_old, _QUARANTINE.c.received_at),
    "card_cache": (_CARDS, _card_expired, _CARDS.c.expires_at),
}
if tuple(_TARGETS) != PURGED_TABLES:  # pragma: no cover - a mismatch fails every import
    raise RuntimeError("retention targets and domain.retention.PURGED_TABLES disagree")


class RetentionRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def delete_chunk(self, table_name: str, cutoff: float, limit: int) -> int:
        """Deletes at most ``limit`` rows of ``table_name`` older than ``cutoff`` (Unix
        seconds) in one transaction; returns how many went (fewer than ``limit``: done)."""
        table, old, order = _TARGETS[table_name]
        async with self._sessions.begin() as session:
            chosen = select(table.c.id).where(old(cutoff)).limit(limit)
            if order is not None:
                chosen = chosen.order_by(order)
            if is_postgres(session):
                chosen = chosen.with_for_update(skip_locked=True)
            statement = delete(table).where(table.c.id.in_(chosen.scalar_subquery()))
            result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count(self, table_name: str, cutoff: float) -> int:
        """How many rows ``delete_chunk`` would delete, all chunks together (the dry run)."""
        table, old, _ = _TARGETS[table_name]
        async with self._sessions() as session:
            found = await session.scalar(select(func.count()).select_from(table).where(old(cutoff)))
        return int(found or 0)
