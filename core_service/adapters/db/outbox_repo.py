"""Read and repair access to the outbox and quarantine, for operators.

Enqueueing and claiming belong to the order path (inbox + relay)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import IntegrationRow, OutboxMessage, QuarantinedPayload
from core_service.adapters.db.sealed_commands import open_commands
from core_service.crypto import MasterKeyError, SecretBox
from core_service.domain.errors import NotFound
from core_service.domain.outbox import OutboxEntry, OutboxStats, QuarantineEntry

STATES = ("pending", "in_flight", "delivered", "skipped", "dead")


class OutboxAdminRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    def _readable(self, message: OutboxMessage, integration: str) -> OutboxEntry:
        """The message with its prepared commands opened for the operator (left sealed if
        they cannot be opened: the operator still sees the rest)."""
        payload = dict(message.payload or {})
        with contextlib.suppress(MasterKeyError):
            payload = open_commands(self._box, payload, message.integration_id, message.order_key)
        return OutboxEntry(
            id=message.id,
            integration=integration,
            order_key=message.order_key,
            state=message.state,
            attempts=message.attempts,
            available_at=message.available_at,
            last_error=message.last_error,
            skip_reason=message.skip_reason,
            created_at=message.created_at,
            updated_at=message.updated_at,
            payload=payload,
            kind=message.kind,
        )

    async def _integration_id(self, session: AsyncSession, name: str) -> int:
        found = await session.scalar(select(IntegrationRow.id).where(IntegrationRow.name == name))
        if found is None:
            raise NotFound(f"integration {name!r} does not exist")
        return found

    @translated
    async def stats(self, integration: str | None, now: float | None = None) -> OutboxStats:
        now = time.time() if now is None else now
        async with self._sessions() as session:
            counts = select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            oldest = select(func.min(OutboxMessage.created_at)).where(
                OutboxMessage.state.in_(("pending", "in_flight"))
            )
            if integration:
                integration_id = await self._integration_id(session, integration)
                counts = counts.where(OutboxMessage.integration_id == integration_id)
                oldest = oldest.where(OutboxMessage.integration_id == integration_id)
            by_state = dict.fromkeys(STATES, 0)
            for state, count in (await session.execute(counts)).tuples():
                by_state[state] = count
            oldest_created = await session.scalar(oldest)
        age = max(0.0, now - oldest_created) if oldest_created is not None else 0.0
        return OutboxStats(by_state, age)

    async def list(
        self, integration: str | None, state: str | None, limit: int, after_id: int
    ) -> Sequence[OutboxEntry]:
        async with self._sessions() as session:
            query = (
                select(OutboxMessage, IntegrationRow.name)
                .join(IntegrationRow, IntegrationRow.id == OutboxMessage.integration_id)
                .where(OutboxMessage.id > after_id)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if integration:
                query = query.where(IntegrationRow.name == integration)
            if state:
                query = query.where(OutboxMessage.state == state)
            rows = (await session.execute(query)).all()
        # Opened once the session is closed: plaintext is never set on a tracked row.
        return [self._readable(message, name) for message, name in rows]

    async def get(self, message_id: int) -> OutboxEntry:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(OutboxMessage, IntegrationRow.name)
                    .join(IntegrationRow, IntegrationRow.id == OutboxMessage.integration_id)
                    .where(OutboxMessage.id == message_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"outbox message {message_id} does not exist")
        return self._readable(row[0], row[1])

    async def replay_dead(
        self, *, message_id: int | None, integration: str | None, now: float | None = None
    ) -> int:
        """Dead messages go back to pending, due now, with a fresh attempt budget. One whose
        order or customer has a newer open message waits until that one is done (at most one
        open message per key)."""
        now = time.time() if now is None else now
        newer = aliased(OutboxMessage)
        async with self._sessions.begin() as session:
            statement = (
                update(OutboxMessage)
                .where(OutboxMessage.state == "dead")
                .where(
                    ~exists().where(
                        newer.integration_id == OutboxMessage.integration_id,
                        newer.order_key == OutboxMessage.order_key,
                        newer.state.in_(("pending", "in_flight")),
                    )
                )
                .values(
                    state="pending",
                    attempts=0,
                    available_at=now,
                    updated_at=now,
                    claim_token=None,
                    lease_expires_at=None,
                    finished_at=None,
                )
            )
            if message_id is not None:
                statement = statement.where(OutboxMessage.id == message_id)
            if integration:
                integration_id = await self._integration_id(session, integration)
                statement = statement.where(OutboxMessage.integration_id == integration_id)
            result = await session.execute(statement)
            replayed: int = result.rowcount  # type: ignore[attr-defined]
        if message_id is not None and replayed == 0:
            message = await self.get(message_id)
            if message.state == "dead":
                raise NotFound(
                    f"outbox message {message_id} waits: a newer message for the same "
                    f"{message.kind} is open; replay it once that one is done"
                )
            raise NotFound(f"outbox message {message_id} is {message.state}, not dead")
        return replayed

    async def list_quarantine(
        self, integration: str | None, limit: int
    ) -> Sequence[QuarantineEntry]:
        async with self._sessions() as session:
            query = (
                select(QuarantinedPayload, IntegrationRow.name)
                .join(IntegrationRow, IntegrationRow.id == QuarantinedPayload.integration_id)
                .order_by(QuarantinedPayload.id.desc())
                .limit(limit)
            )
            if integration:
                query = query.where(IntegrationRow.name == integration)
            return [
                _quarantined(row, name) for row, name in (await session.execute(query)).tuples()
            ]

    async def get_quarantined(self, payload_id: int) -> QuarantineEntry:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(QuarantinedPayload, IntegrationRow.name)
                    .join(IntegrationRow, IntegrationRow.id == QuarantinedPayload.integration_id)
                    .where(QuarantinedPayload.id == payload_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"quarantined payload {payload_id} does not exist")
            return _quarantined(row[0], row[1])


def _quarantined(row: QuarantinedPayload, integration: str) -> QuarantineEntry:
    return QuarantineEntry(
        id=row.id,
        integration=integration,
        received_at=row.received_at,
        reason=row.reason,
        raw_body=row.raw_body,
        request_id=row.request_id,
    )
