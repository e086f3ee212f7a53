"""The redemption ledger (issue 14): which offers of which customer are redeemed now.

Race-safe on both engines through the unique key (integration, customer, kind, item): a
redeem is one ``INSERT … ON CONFLICT DO UPDATE … WHERE state = 'undone'`` per item, an undo
one ``UPDATE … WHERE state = 'redeemed'``, so of two tills pressing the button at once exactly
one statement changes the row (PostgreSQL re-checks the condition on the row the other
committed; SQLite runs one writer at a time). Items are changed in a fixed order, so two
multi-item calls cannot deadlock. The Bloomreach events of the changes are queued in the
same transaction (the outbox): the till's answer needs no Bloomreach call, and a change is
delivered if and only if it committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core_service.adapters.db.customer_commands import enqueue_customer_commands
from core_service.adapters.db.dialect import insert
from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import LoyaltyRedemption
from core_service.crypto import SecretBox
from core_service.domain.loyalty import Item, LedgerChange, Redemption, refused

_LEDGER: Table = LoyaltyRedemption.__table__  # type: ignore[assignment]
REDEEMED, UNDONE = "redeemed", "undone"
# Built once: every card with offers runs it.
_REDEEMED = select(_LEDGER.c.item_kind, _LEDGER.c.item_id).where(
    _LEDGER.c.integration_id == bindparam("integration_id"),
    _LEDGER.c.customer_key == bindparam("customer_key"),
    _LEDGER.c.state == REDEEMED,
)
CommandBuilder = Callable[[Sequence[LedgerChange]], list[dict[str, Any]]]


class LoyaltyLedgerRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._box = box

    def customer_key(self, integration_id: int, customer_id: str) -> str:
        """A keyed digest of the customer (the verifier key outlives master-key rotations)."""
        return self._box.keyed_digest(f"loyalty-ledger:{integration_id}", customer_id)

    @translated
    async def redeemed(self, integration_id: int, customer_id: str) -> frozenset[tuple[str, str]]:
        key = self.customer_key(integration_id, customer_id)
        # Every card with offers asks this: a plain connection, not an ORM session (half the
        # CPU on SQLite, measured), read-only and outside any transaction of ours.
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                _REDEEMED, {"integration_id": integration_id, "customer_key": key}
            )
            return frozenset((str(kind), str(item)) for kind, item in rows)

    @translated
    async def apply(self, redemption: Redemption, commands: CommandBuilder) -> list[LedgerChange]:
        """Every item changed, or none (``InvalidArgument`` naming the first refused item).
        An item the same call (fingerprint) changed within the retry window counts as done
        and is not changed again; the changes made, with their queued events."""
        key = self.customer_key(redemption.integration_id, redemption.customer_id)
        async with self._sessions.begin() as session:
            changes: list[LedgerChange] = []
            for item in sorted(redemption.items, key=lambda i: i.key):  # a fixed lock order
                version = await self._change(session, key, item, redemption)
                if version is not None:
                    changes.append(LedgerChange(item, version, redemption.now))
                elif not await self._is_retry(session, key, item, redemption):
                    raise refused(item, redemption.action)
            if changes:
                await enqueue_customer_commands(
                    session,
                    integration_id=redemption.integration_id,
                    customer_id=redemption.customer_id,
                    commands=commands(changes),
                    now=redemption.now,
                    sealer=self._box,
                )
            return changes

    async def _change(
        self, session: AsyncSession, key: str, item: Item, r: Redemption
    ) -> int | None:
        """The row's new version, or None when its state forbids the change."""
        if r.action == "redeem":
            statement = (
                insert(session, _LEDGER)
                .values(
                    integration_id=r.integration_id,
                    customer_key=key,
                    item_kind=item.kind,
                    item_id=item.item_id,
                    state=REDEEMED,
                    version=1,
                    last_call=r.fingerprint,
                    changed_at=r.now,
                    created_at=r.now,
                )
                .returning(_LEDGER.c.version)
            )
            statement = statement.on_conflict_do_update(
                index_elements=["integration_id", "customer_key", "item_kind", "item_id"],
                set_={
                    "state": REDEEMED,
                    "version": _LEDGER.c.version + 1,
                    "last_call": r.fingerprint,
                    "changed_at": r.now,
                },
                where=_LEDGER.c.state == UNDONE,
            )
        else:
            statement = (
                update(_LEDGER)
                .where(*self._row(key, item, r.integration_id), _LEDGER.c.state == REDEEMED)
                .values(
                    state=UNDONE,
                    version=_LEDGER.c.version + 1,
                    last_call=r.fingerprint,
                    changed_at=r.now,
                )
                .returning(_LEDGER.c.version)
            )
        version = await session.scalar(statement)
        return None if version is None else int(version)

    async def _is_retry(self, session: AsyncSession, key: str, item: Item, r: Redemption) -> bool:
        if not r.fingerprint:
            return False
        row = (
            await session.execute(
                select(_LEDGER.c.state, _LEDGER.c.last_call, _LEDGER.c.changed_at).where(
                    *self._row(key, item, r.integration_id)
                )
            )
        ).first()
        if row is None:
            return False
        wanted = REDEEMED if r.action == "redeem" else UNDONE
        state, last_call, changed_at = row
        return bool(
            state == wanted
            and last_call == r.fingerprint
            and r.now - float(changed_at) <= r.retry_window_s
        )

    @staticmethod
    def _row(key: str, item: Item, integration_id: int) -> tuple[Any, ...]:
        return (
            _LEDGER.c.integration_id == integration_id,
            _LEDGER.c.customer_key == key,
            _LEDGER.c.item_kind == item.kind,
            _LEDGER.c.item_id == item.item_id,
        )
