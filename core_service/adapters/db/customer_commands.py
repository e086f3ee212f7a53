"""Customer messages: a customer's Bloomreach commands queued in the outbox (kind ``customer``).

Not tied to an order: loyalty events written beside their ledger row (issue 14) and the
customer writes answered while Bloomreach was down (issue 15). One open message per
integration and customer keeps the customer's commands in order: a new write appends to it.
The message's key is a keyed digest of the customer id (``c:`` + 64 hex), never the id; the
payload's ``customer_id`` and ``commands`` are sealed together, with the integration and the
key as associated data (sealed_commands.py), like an order's prepared commands.

``enqueue_customer_commands`` runs inside the caller's open transaction: the commands are
queued if and only if the caller's own rows commit. Appending to a message the relay holds
bumps its ``generation``; the relay's completion then drops only the commands it delivered
and leaves the rest pending (relay_repo.py), so an appended command is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.dialect import insert, is_postgres
from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import OutboxMessage
from core_service.adapters.db.sealed_commands import (
    CUSTOMER_ID,
    PLAIN,
    open_commands,
    seal_commands,
)
from core_service.crypto import SecretBox
from core_service.domain.errors import InvalidArgument
from core_service.domain.outbox import CUSTOMER

KEY_PREFIX: Final = "c:"
KEY_END: Final = "c;"  # the first key after every "c:..." key
_OPEN_SQL: Final = "state IN ('pending', 'in_flight')"
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


def customer_key(sealer: SecretBox, integration_id: int, customer_id: str) -> str:
    """The message key of one customer of one integration: stable across master keys."""
    return KEY_PREFIX + sealer.keyed_digest(f"outbox-customer:{integration_id}", customer_id)


def _checked(commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(c) for c in commands]
    ids = [c.get("command_id") for c in out]
    if not out or any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
        raise InvalidArgument("customer commands need distinct, non-empty command_ids")
    return out


async def enqueue_customer_commands(
    session: AsyncSession,
    *,
    integration_id: int,
    customer_id: str,
    commands: Sequence[Mapping[str, Any]],
    now: float,
    sealer: SecretBox,
) -> int:
    """Queue ``commands`` (Bloomreach ``batch`` commands, each with a deterministic
    ``command_id``) for the customer, in the caller's transaction; the message id.

    Appends to the customer's open message if there is one; a command whose ``command_id`` that
    message already holds is not added again (a repeated call queues nothing twice).
    """
    fresh = _checked(commands)
    key = customer_key(sealer, integration_id, customer_id)
    payload = seal_commands(sealer, {CUSTOMER_ID: customer_id, PLAIN: fresh}, integration_id, key)
    # Insert, or find the open message to append to. Between the two, the relay may finish
    # the open message (then the next insert succeeds): a few rounds settle it.
    for _ in range(3):
        created = await session.scalar(_insert(session, integration_id, key, payload, now))
        if created is not None:
            return int(created)
        query = select(_OUTBOX.c.id, _OUTBOX.c.payload).where(
            _OUTBOX.c.integration_id == integration_id,
            _OUTBOX.c.order_key == key,
            _OUTBOX.c.state.in_(("pending", "in_flight")),
        )
        if is_postgres(session):
            query = query.with_for_update()
        row = (await session.execute(query)).first()
        if row is not None:
            return await _append(session, sealer, row, integration_id, customer_id, fresh, now)
    raise RuntimeError("the customer's open outbox message kept changing")


def _insert(
    session: AsyncSession, integration_id: int, key: str, payload: dict[str, Any], now: float
) -> Any:
    return (
        insert(session, _OUTBOX)
        .values(
            integration_id=integration_id,
            order_key=key,
            kind=CUSTOMER,
            payload=payload,
            state="pending",
            attempts=0,
            available_at=now,
            created_at=now,
            updated_at=now,
            generation=0,
        )
        .on_conflict_do_nothing(
            index_elements=["integration_id", "order_key"], index_where=text(_OPEN_SQL)
        )
        .returning(_OUTBOX.c.id)
    )


async def _append(  # noqa: PLR0917 - one customer's write, in the caller's transaction
    session: AsyncSession,
    sealer: SecretBox,
    row: Any,
    integration_id: int,
    customer_id: str,
    fresh: list[dict[str, Any]],
    now: float,
) -> int:
    """The customer has an open message (pending, or held by a relay): append, in order."""
    message_id, stored = int(row[0]), dict(row[1] or {})
    key = customer_key(sealer, integration_id, customer_id)
    opened = open_commands(sealer, stored, integration_id, key)
    held: list[dict[str, Any]] = list(opened.get(PLAIN, []))
    known = {c.get("command_id") for c in held}
    added = [c for c in fresh if c["command_id"] not in known]
    if not added:
        return message_id
    opened[PLAIN] = held + added
    opened[CUSTOMER_ID] = customer_id
    await session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == message_id)
        .values(
            payload=seal_commands(sealer, opened, integration_id, key),
            generation=_OUTBOX.c.generation + 1,
            updated_at=now,
        )
    )
    return message_id


class CustomerCommandRepository:
    """services/ports.py's CustomerCommandQueue: each call its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    @translated
    async def enqueue(
        self,
        *,
        integration_id: int,
        customer_id: str,
        commands: Sequence[Mapping[str, Any]],
        now: float,
    ) -> int:
        async with self._sessions.begin() as session:
            return await enqueue_customer_commands(
                session,
                integration_id=integration_id,
                customer_id=customer_id,
                commands=commands,
                now=now,
                sealer=self._box,
            )

    @translated
    async def pending(self, integration_id: int, customer_id: str) -> bool:
        key = customer_key(self._box, integration_id, customer_id)
        async with self._sessions() as session:
            found = await session.scalar(
                select(_OUTBOX.c.id)
                .where(
                    _OUTBOX.c.integration_id == integration_id,
                    _OUTBOX.c.order_key == key,
                    _OUTBOX.c.state.in_(("pending", "in_flight")),
                )
                .limit(1)
            )
        return found is not None

    @translated
    async def any_pending(self, integration_id: int) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(_OUTBOX.c.id)
                .where(
                    _OUTBOX.c.integration_id == integration_id,
                    # The key range of customer messages: ix_outbox_order serves it.
                    _OUTBOX.c.order_key >= KEY_PREFIX,
                    _OUTBOX.c.order_key < KEY_END,
                    _OUTBOX.c.state.in_(("pending", "in_flight")),
                )
                .limit(1)
            )
        return found is not None
