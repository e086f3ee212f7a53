"""The relay's side of the outbox: claim under a lease, persist prepared commands, complete.

Every write after the claim is guarded by the claim token, so a worker whose lease expired
(and whose message another worker now holds) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import JSON, Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.dialect import insert, is_postgres
from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import OutboxMessage, TrackedOrder
from core_service.adapters.db.sealed_commands import (
    PLAIN,
    SEALED,
    open_commands,
    seal_commands,
)
from core_service.crypto import MasterKeyError, SecretBox
from core_service.domain.outbox import CUSTOMER, UNREADABLE, Claimed, Completion

__all__ = ["UNREADABLE", "Claimed", "Completion", "RelayRepository"]

OPEN = ("pending", "in_flight")
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_TOUCH_HELD = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.claim_token == bindparam("token"),
        _OUTBOX.c.id.in_(bindparam("ids", expanding=True)),
    )
    .values(updated_at=bindparam("now"))
    .returning(_OUTBOX.c.id)
)
_SET_PAYLOAD = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("m_id"))
    .values(payload=bindparam("payload", type_=JSON))
)
_TRACK: dict[str, Any] = {}


class RelayRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    def _opened(
        self, stored: dict[str, Any], integration_id: int, order_key: str
    ) -> dict[str, Any]:
        try:
            return open_commands(self._box, stored, integration_id, order_key)
        except MasterKeyError as exc:
            kept = {k: v for k, v in stored.items() if k != SEALED}
            return {**kept, UNREADABLE: str(exc)}

    @translated
    async def claim(self, limit: int, lease_s: float, now: float) -> list[Claimed]:
        """Up to ``limit`` due messages, now in flight under a new claim token.

        An in-flight message's ``available_at`` is its lease expiry, so one index serves both
        due pending messages and messages of crashed workers.
        """
        token = uuid.uuid4().hex
        async with self._sessions.begin() as session:
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.state.in_(OPEN), OutboxMessage.available_at <= now)
                .order_by(OutboxMessage.available_at)
                .limit(limit)
            )
            if is_postgres(session):
                # Several relays on one PostgreSQL: each takes rows the others have not locked.
                due = due.with_for_update(skip_locked=True)
            statement = (
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(
                    state="in_flight",
                    claim_token=token,
                    lease_expires_at=now + lease_s,
                    available_at=now + lease_s,
                    updated_at=now,
                )
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.integration_id,
                    OutboxMessage.order_key,
                    OutboxMessage.payload,
                    OutboxMessage.attempts,
                    OutboxMessage.generation,
                    OutboxMessage.kind,
                )
                .execution_options(synchronize_session=False)
            )
            rows = (await session.execute(statement)).all()
        claimed = [
            Claimed(
                id=row[0],
                integration_id=row[1],
                order_key=row[2],
                payload=self._opened(dict(row[3] or {}), row[1], row[2]),
                attempts=row[4],
                generation=row[5],
                claim_token=token,
                kind=row[6],
            )
            for row in rows
        ]
        claimed.sort(key=lambda c: c.id)
        return claimed

    @translated
    async def tracked(self, integration_id: int, order_keys: Sequence[str]) -> set[str]:
        if not order_keys:
            return set()
        async with self._sessions() as session:
            found = await session.scalars(
                select(TrackedOrder.order_key).where(
                    TrackedOrder.integration_id == integration_id,
                    TrackedOrder.order_key.in_(list(order_keys)),
                )
            )
            return set(found.all())

    async def prepare(
        self, items: Sequence[tuple[Claimed, dict[str, Any]]], now: float
    ) -> set[int]:
        """Store the commands about to be sent, so that any resend is byte-identical even if
        the order changes in Sitoo meanwhile. Returns the ids still held by their claim.

        One UPDATE per claim token (a claim is up to a batch of messages), not one per message.
        """
        held: set[int] = set()
        async with self._sessions.begin() as session:
            for token, group in _by_token(items, lambda item: item[0]).items():
                ids = [message.id for message, _ in group]
                # Locks the rows still held by this claim (until commit), then stores each
                # payload: two cached statements, the second one executemany (pipelined).
                mine = set(
                    (
                        await session.scalars(_TOUCH_HELD, {"token": token, "ids": ids, "now": now})
                    ).all()
                )
                if mine:
                    await session.execute(
                        _SET_PAYLOAD,
                        [
                            {
                                "m_id": m.id,
                                "payload": seal_commands(
                                    self._box, p, m.integration_id, m.order_key
                                ),
                            }
                            for m, p in group
                            if m.id in mine
                        ],
                    )
                held |= mine
        return held

    async def complete(self, completions: Sequence[Completion], now: float) -> list[bool]:
        """Apply the outcomes in one transaction; False where the claim was lost.

        Deliveries (the bulk of the traffic) take one UPDATE per claim token and one multi-row
        INSERT into tracked_orders; other outcomes, each with its own values, one UPDATE each.
        """
        applied: dict[int, bool] = {}
        async with self._sessions.begin() as session:
            delivered = [
                c
                for c in completions
                if c.state == "delivered" and c.payload is None and c.message.kind != CUSTOMER
            ]
            if delivered:
                applied.update(await self._deliver(session, delivered, now))
            for completion in completions:
                if completion.message.id not in applied:
                    applied[completion.message.id] = await self._complete_one(
                        session, completion, now
                    )
        return [applied[c.message.id] for c in completions]

    async def _deliver(
        self, session: AsyncSession, completions: Sequence[Completion], now: float
    ) -> dict[int, bool]:
        held: set[int] = set()
        for token, group in _by_token(completions, lambda c: c.message).items():
            statement = (
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.claim_token == token,
                    _OUTBOX.c.id.in_([c.message.id for c in group]),
                )
                .values(
                    state="delivered",
                    claim_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now,
                    last_error=None,
                )
                .returning(_OUTBOX.c.id)
            )
            held.update((await session.scalars(statement)).all())
        rows = [
            {
                "integration_id": c.message.integration_id,
                "order_key": c.message.order_key,
                "purchase_id": str(c.tracked.get("purchase_id", "")),
                "kind": str(c.tracked.get("kind", "")),
                "message_id": c.message.id,
                "commands": int(c.tracked.get("commands", 0)),
                "tracked_at": now,
            }
            for c in completions
            if c.message.id in held
        ]
        if rows:
            # Same transaction as the state change: exactly once in effect. Executemany of a
            # statement built once: one multi-row INSERT, compiled once.
            dialect = session.get_bind().dialect.name
            track = _TRACK.get(dialect)
            if track is None:
                track = _TRACK[dialect] = insert(
                    session, TrackedOrder.__table__
                ).on_conflict_do_nothing(index_elements=["integration_id", "order_key"])
            await session.execute(track, rows)
        return {c.message.id: c.message.id in held for c in completions}

    async def _complete_one(self, session: AsyncSession, c: Completion, now: float) -> bool:
        m = c.message
        held = and_(OutboxMessage.id == m.id, OutboxMessage.claim_token == m.claim_token)
        released: dict[str, Any] = {
            "claim_token": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if c.payload is not None:
            released["payload"] = seal_commands(self._box, c.payload, m.integration_id, m.order_key)
        if c.state == "delivered":
            values = {**released, "state": "delivered", "finished_at": now, "last_error": None}
        elif c.state == "skipped":
            values = {
                **released,
                "state": "skipped",
                "finished_at": now,
                "skip_reason": c.skip_reason[:200],
            }
        elif c.state == "retry":
            values = {
                **released,
                "state": "pending",
                "attempts": OutboxMessage.attempts + 1,
                "available_at": c.available_at,
                "last_error": c.error[:4000],
            }
        else:
            values = {
                **released,
                "state": "dead",
                "attempts": OutboxMessage.attempts + 1,
                "finished_at": now,
                "last_error": c.error[:4000],
            }
        guard = held
        customer_delivered = c.state == "delivered" and m.kind == CUSTOMER
        if (c.state == "skipped" and not c.final) or customer_delivered:
            guard = and_(held, OutboxMessage.generation == m.generation)
        result = await session.execute(
            update(OutboxMessage)
            .where(guard)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            if customer_delivered:
                # Commands were appended while these were sent: keep the rest pending.
                return await self._keep_undelivered(session, c, now, released)
            if c.state == "skipped" and not c.final:
                # Events arrived while we looked at a stale order: look again, now.
                result = await session.execute(
                    update(OutboxMessage)
                    .where(held)
                    .values(**released, state="pending", available_at=now)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount)  # type: ignore[attr-defined]
            return False
        if c.state == "delivered" and m.kind != CUSTOMER:
            await session.execute(
                insert(session, TrackedOrder)
                .values(
                    integration_id=m.integration_id,
                    order_key=m.order_key,
                    purchase_id=str(c.tracked.get("purchase_id", "")),
                    kind=str(c.tracked.get("kind", "")),
                    message_id=m.id,
                    commands=int(c.tracked.get("commands", 0)),
                    tracked_at=now,
                )
                .on_conflict_do_nothing(index_elements=["integration_id", "order_key"])
            )
        return True

    async def _keep_undelivered(
        self, session: AsyncSession, c: Completion, now: float, released: dict[str, Any]
    ) -> bool:
        """A customer message delivered as claimed, but appended to since: drop the delivered
        prefix (the claimed commands, by count and id) and leave the rest pending, due now."""
        m = c.message
        held = and_(OutboxMessage.id == m.id, OutboxMessage.claim_token == m.claim_token)
        query = select(OutboxMessage.payload).where(held)
        if is_postgres(session):
            query = query.with_for_update()
        stored = await session.scalar(query)
        if stored is None:
            return False
        current = open_commands(self._box, dict(stored), m.integration_id, m.order_key)
        sent: list[dict[str, Any]] = list(m.payload.get(PLAIN, []))
        commands: list[dict[str, Any]] = list(current.get(PLAIN, []))
        ids = [x.get("command_id") for x in commands[: len(sent)]]
        # Appends only ever add at the end; should the prefix differ anyway, everything stays
        # pending (sent again: at least once rather than lost).
        if ids == [x.get("command_id") for x in sent]:
            current[PLAIN] = commands[len(sent) :]
        result = await session.execute(
            update(OutboxMessage)
            .where(held)
            .values(
                **released,
                state="pending",
                attempts=0,
                available_at=now,
                last_error=None,
                payload=seal_commands(self._box, current, m.integration_id, m.order_key),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


_Item = TypeVar("_Item")


def _by_token(
    items: Sequence[_Item], message: Callable[[_Item], Claimed]
) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(message(item).claim_token, []).append(item)
    return groups
