"""The webhook's transaction: inbox rows, outbox enqueue-or-coalesce, quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.dialect import insert
from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import (
    InboxEvent,
    IntegrationRow,
    OutboxMessage,
    QuarantinedPayload,
)
from core_service.domain.inbox import InboxEntry, InboxWrite, QuarantineCaps, QuarantineResult
from core_service.domain.orders import OrderRef

__all__ = [
    "InboxEntry",
    "InboxRepository",
    "InboxWrite",
    "QuarantineCaps",
    "QuarantineResult",
]

OPEN_STATES_SQL = "state IN ('pending', 'in_flight')"
_INBOX: Table = InboxEvent.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_QUARANTINE: Table = QuarantinedPayload.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class _Statements:
    inbox: Any
    enqueue: Any


_BY_DIALECT: dict[str, _Statements] = {}


def _statements(session: AsyncSession) -> _Statements:
    """The webhook's two INSERTs for the session's dialect, built once."""
    dialect = session.get_bind().dialect.name
    found = _BY_DIALECT.get(dialect)
    if found is None:
        inbox = (
            insert(session, _INBOX)
            .on_conflict_do_nothing(index_elements=["integration_id", "event_id"])
            .returning(_INBOX.c.integration_id, _INBOX.c.event_id)
        )
        enqueue = insert(session, _OUTBOX)
        # An open message for the order already exists: coalesce into it. Bumping the
        # generation tells a relay holding it that something changed since its claim.
        enqueue = enqueue.on_conflict_do_update(
            index_elements=["integration_id", "order_key"],
            index_where=text(OPEN_STATES_SQL),
            set_={
                "generation": _OUTBOX.c.generation + 1,
                "updated_at": enqueue.excluded.updated_at,
            },
        )
        found = _BY_DIALECT[dialect] = _Statements(inbox, enqueue)
    return found


class InboxRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @translated
    async def record(
        self, integration_id: int, entries: Sequence[InboxEntry], now: float
    ) -> set[str]:
        """Record one batch's events and enqueue their orders, in one transaction.

        Returns the event ids that were new; the others were seen before and changed nothing.
        """
        return (await self.record_many([InboxWrite(integration_id, entries)], now))[0]

    @translated
    async def record_many(self, writes: Sequence[InboxWrite], now: float) -> list[set[str]]:
        """Several batches in one transaction (group commit): per batch, the new event ids.

        An event id that two batches of the group share is new for the first one only, as if
        the batches had been committed one after the other in this order.
        """
        owner: dict[tuple[int, str], int] = {}
        orders: dict[tuple[int, str], OrderRef | None] = {}
        rows: list[dict[str, Any]] = []
        for index, write in enumerate(writes):
            for e in write.entries:
                key = (write.integration_id, e.event_id)
                if key in owner:
                    continue
                owner[key] = index
                orders[key] = e.order
                rows.append(
                    {
                        "integration_id": write.integration_id,
                        "event_id": e.event_id,
                        "event_type": e.event_type,
                        "event_date": e.event_date,
                        "outcome": e.outcome,
                        "received_at": now,
                    }
                )
        # Sorted: concurrent transactions take the unique index entries in one order, so two
        # groups sharing event ids wait for each other instead of deadlocking.
        rows.sort(key=lambda r: (r["integration_id"], r["event_id"]))
        new: list[set[str]] = [set() for _ in writes]
        async with self._sessions.begin() as session:
            # Core, not ORM, and the rows as executemany parameters: the statement is built
            # and compiled once, and SQLAlchemy sends the rows as one multi-row INSERT
            # ("insertmanyvalues"), so a whole group is still one round trip.
            statements = _statements(session)
            inserted = (await session.execute(statements.inbox, rows)).all()
            # Several new events for one order become one enqueue.
            enqueue: set[tuple[int, OrderRef]] = set()
            for integration_id, event_id in inserted:
                key = (integration_id, event_id)
                new[owner[key]].add(event_id)
                order = orders[key]
                if order is not None:
                    enqueue.add((integration_id, order))
            if enqueue:
                await self._enqueue(session, enqueue, now)
        return new

    async def _enqueue(
        self, session: AsyncSession, orders: set[tuple[int, OrderRef]], now: float
    ) -> None:
        rows = [
            {
                "integration_id": integration_id,
                "order_key": ref.key,
                "kind": "order",
                "payload": {"order": ref.to_json()},
                "state": "pending",
                "attempts": 0,
                "available_at": now,
                "generation": 0,
                "created_at": now,
                "updated_at": now,
            }
            # Sorted: concurrent transactions lock the orders' index entries in one order.
            for integration_id, ref in sorted(orders, key=lambda o: (o[0], o[1].key))
        ]
        await session.execute(_statements(session).enqueue, rows)

    @translated
    async def quarantine(
        self,
        integration_id: int,
        reason: str,
        raw_body: bytes,
        *,
        request_id: str,
        now: float,
        caps: QuarantineCaps,
    ) -> QuarantineResult:
        """Keep one malformed body and, in the same transaction, delete the integration's
        oldest ones beyond ``caps`` (the new body is always kept)."""
        async with self._sessions.begin() as session:
            # One quarantine write per integration at a time, so each trim sees the bodies
            # the others stored and the caps hold exactly. NO KEY UPDATE (PostgreSQL; SQLite
            # has one writer anyway) does not conflict with the key-share locks of the
            # webhook's inbox inserts, so well-formed batches never wait on this.
            await session.execute(
                select(IntegrationRow.id)
                .where(IntegrationRow.id == integration_id)
                .with_for_update(key_share=True)
            )
            row = QuarantinedPayload(
                integration_id=integration_id,
                received_at=now,
                reason=reason[:2000],
                raw_body=raw_body,
                request_id=request_id,
            )
            session.add(row)
            await session.flush()
            dropped, dropped_bytes = await self._trim(session, integration_id, caps)
            return QuarantineResult(row.id, dropped, dropped_bytes)

    async def _trim(
        self, session: AsyncSession, integration_id: int, caps: QuarantineCaps
    ) -> tuple[int, int]:
        # Newest first, sizes only (length() reads no blob on SQLite or PostgreSQL): the
        # first row that would break a cap, and every older one, go.
        sizes = (
            await session.execute(
                select(_QUARANTINE.c.id, func.length(_QUARANTINE.c.raw_body))
                .where(_QUARANTINE.c.integration_id == integration_id)
                .order_by(_QUARANTINE.c.id.desc())
                .limit(caps.max_bodies + 1)
            )
        ).all()
        kept_bytes = 0
        cut: int | None = None
        for kept, (row_id, size) in enumerate(sizes):
            if kept and (kept >= caps.max_bodies or kept_bytes + int(size or 0) > caps.max_bytes):
                cut = row_id
                break
            kept_bytes += int(size or 0)
        if cut is None:
            return 0, 0
        older = (_QUARANTINE.c.integration_id == integration_id) & (_QUARANTINE.c.id <= cut)
        # What this transaction itself deleted (a concurrent trim may have taken some first).
        deleted = (
            await session.execute(
                delete(_QUARANTINE).where(older).returning(func.length(_QUARANTINE.c.raw_body))
            )
        ).all()
        return len(deleted), sum(int(size or 0) for (size,) in deleted)
