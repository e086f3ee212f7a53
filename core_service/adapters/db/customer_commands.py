"""STAND-IN until cust-outbox's module of the same name is merged (same signature): queues
commands as a plain outbox message that the relay delivers like an order's prepared commands.
Replaced wholesale by the merge."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from core_service.adapters.db.dialect import insert
from core_service.adapters.db.models import OutboxMessage
from core_service.adapters.db.sealed_commands import seal_commands
from core_service.crypto import SecretBox

_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


async def enqueue_customer_commands(
    session: AsyncSession,
    *,
    integration_id: int,
    customer_id: str,
    commands: Sequence[Mapping[str, Any]],
    now: float,
    sealer: SecretBox,
) -> int:
    del customer_id
    fresh = [dict(c) for c in commands]
    ids = "\n".join(str(c["command_id"]) for c in fresh)
    key = "c:" + hashlib.sha256(ids.encode()).hexdigest()
    created = await session.scalar(
        insert(session, _OUTBOX)
        .values(
            integration_id=integration_id,
            order_key=key,
            kind="order",
            payload=seal_commands(sealer, {"commands": fresh}, integration_id, key),
            state="pending",
            attempts=0,
            available_at=now,
            created_at=now,
            updated_at=now,
            generation=0,
        )
        .returning(_OUTBOX.c.id)
    )
    return int(created or 0)
