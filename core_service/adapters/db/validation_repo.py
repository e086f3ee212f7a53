"""Validation's round trip through the real outbox: one marked message, and its fate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.models import OutboxMessage

VALIDATION_KIND = "validation"


@dataclass(frozen=True)
class MessageFate:
    state: str
    attempts: int
    last_error: str


class ValidationRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def enqueue(
        self, integration_id: int, order_key: str, payload: dict[str, Any], now: float
    ) -> int:
        """A pending message whose commands are already prepared: the relay sends them
        without a Sitoo fetch (as it does for any prepared message) and tracks them."""
        async with self._sessions.begin() as session:
            message = OutboxMessage(
                integration_id=integration_id,
                order_key=order_key,
                kind=VALIDATION_KIND,
                payload=payload,
                state="pending",
                attempts=0,
                available_at=now,
                generation=0,
                created_at=now,
                updated_at=now,
            )
            session.add(message)
            await session.flush()
            return message.id

    async def fate(self, message_id: int) -> MessageFate | None:
        async with self._sessions() as session:
            message = await session.get(OutboxMessage, message_id)
            if message is None:
                return None
            return MessageFate(message.state, message.attempts, message.last_error or "")
