"""Validation's round trip through the real outbox: one marked message, and its fate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.models import OutboxMessage, ValidationRun
from core_service.adapters.db.sealed_commands import seal_commands
from core_service.crypto import SecretBox
from core_service.domain.validation import Check, MessageFate, Report

VALIDATION_KIND = "validation"


class ValidationRepository:
    """Satisfies ``services.ports.ValidationStore``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

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
                payload=seal_commands(self._box, payload, integration_id, order_key),
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

    async def record_run(
        self, integration_id: int, ran_at: float, passed: bool, checks: Sequence[Check]
    ) -> None:
        async with self._sessions.begin() as session:
            session.add(
                ValidationRun(
                    integration_id=integration_id,
                    ran_at=ran_at,
                    passed=passed,
                    checks=[asdict(check) for check in checks],
                )
            )

    async def last_run(self, integration_id: int) -> Report | None:
        async with self._sessions() as session:
            run = await session.scalar(
                select(ValidationRun)
                .where(ValidationRun.integration_id == integration_id)
                .order_by(ValidationRun.id.desc())
                .limit(1)
            )
            if run is None:
                return None
            return Report(run.ran_at, run.passed, tuple(Check(**check) for check in run.checks))
