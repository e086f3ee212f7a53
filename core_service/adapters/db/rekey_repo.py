"""Master-key rotation: every sealed value in the database, resealed under the current key.

Each value is rewritten with a compare-and-swap on the stored text, so a value another process
changed meanwhile (it sealed it with the current key anyway, or it will be seen by the next
pass) is never overwritten with stale content. Outbox payloads go in keyset-paged chunks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.card_cache_repo import INDEX_KEY, INDEX_KEY_CONTEXT, card_context
from core_service.adapters.db.integrations_repo import secret_context
from core_service.adapters.db.key_material import (
    CANARY_CONTEXT,
    CANARY_KEY,
    CREDENTIAL_CONTEXT,
    CREDENTIAL_KEY,
)
from core_service.adapters.db.models import CachedCardRow, IntegrationRow, Meta, OutboxMessage
from core_service.adapters.db.sealed_commands import SEALED, commands_context
from core_service.crypto import MasterKeyError, SecretBox

# Sealed integration columns and the secret name their associated data uses.
INTEGRATION_SECRETS = (
    ("bloomreach_api_secret_enc", "bloomreach_api_secret"),
    ("sitoo_api_password_enc", "sitoo_api_password"),
)


class RekeyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    def _resealed(self, token: str, context: str, tally: Counter[str]) -> str | None:
        """The value under the current key, or None when it needs no change or cannot move."""
        if SecretBox.sealed_with(token) == self._box.key_id:
            tally["current"] += 1
            return None
        try:
            return self._box.seal(self._box.open(token, context=context), context=context)
        except MasterKeyError:
            tally["unreadable"] += 1
            return None

    async def meta(self) -> Counter[str]:
        tally: Counter[str] = Counter()
        contexts = {
            CANARY_KEY: CANARY_CONTEXT,
            CREDENTIAL_KEY: CREDENTIAL_CONTEXT,
            INDEX_KEY: INDEX_KEY_CONTEXT,
        }
        async with self._sessions.begin() as session:
            rows = (await session.execute(select(Meta.key, Meta.value))).all()
            for key, value in rows:
                context = contexts.get(key)
                if context is None:
                    continue
                new = self._resealed(value, context, tally)
                if new is not None:
                    await self._swap(
                        session,
                        update(Meta).where(Meta.key == key, Meta.value == value).values(value=new),
                        tally,
                    )
        return tally

    async def integrations(self) -> Counter[str]:
        tally: Counter[str] = Counter()
        async with self._sessions.begin() as session:
            rows = (await session.execute(select(IntegrationRow))).scalars().all()
            for row in rows:
                for column, secret in INTEGRATION_SECRETS:
                    value = getattr(row, column)
                    if value is None:
                        continue
                    new = self._resealed(value, secret_context(row.name, secret), tally)
                    if new is None:
                        continue
                    stored = getattr(IntegrationRow, column)
                    statement = (
                        update(IntegrationRow)
                        .where(IntegrationRow.id == row.id, stored == value)
                        .values({column: new})
                        .execution_options(synchronize_session=False)
                    )
                    await self._swap(session, statement, tally)
        return tally

    async def outbox(
        self, *, chunk: int = 500, progress: Callable[[Counter[str]], None] | None = None
    ) -> Counter[str]:
        tally: Counter[str] = Counter()
        text_ = cast(OutboxMessage.payload, Text)
        after = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (
                    await session.execute(
                        select(
                            OutboxMessage.id,
                            OutboxMessage.integration_id,
                            OutboxMessage.order_key,
                            text_,
                        )
                        .where(OutboxMessage.id > after, text_.like(f'%"{SEALED}"%'))
                        .order_by(OutboxMessage.id)
                        .limit(chunk)
                    )
                ).all()
                for message_id, integration_id, order_key, raw in rows:
                    payload: dict[str, Any] = json.loads(raw)
                    token = payload.get(SEALED)
                    if not isinstance(token, str):
                        continue
                    context = commands_context(integration_id, order_key)
                    new = self._resealed(token, context, tally)
                    if new is None:
                        continue
                    statement = (
                        update(OutboxMessage)
                        .where(OutboxMessage.id == message_id, text_ == raw)
                        .values(payload=bindparam("payload", type_=JSON))
                        .execution_options(synchronize_session=False)
                    )
                    await self._swap(
                        session, statement, tally, {"payload": {**payload, SEALED: new}}
                    )
            if progress is not None:
                progress(tally)
            if len(rows) < chunk:
                return tally
            after = rows[-1][0]

    async def card_cache(self, *, chunk: int = 500) -> Counter[str]:
        """Cached customer cards. A card no configured key opens is deleted, not left: the
        cache is refilled from Bloomreach by the next fresh read (tally ``dropped``)."""
        tally: Counter[str] = Counter()
        after = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (
                    await session.execute(
                        select(
                            CachedCardRow.id,
                            CachedCardRow.integration_id,
                            CachedCardRow.customer_digest,
                            CachedCardRow.sealed_card,
                        )
                        .where(CachedCardRow.id > after)
                        .order_by(CachedCardRow.id)
                        .limit(chunk)
                    )
                ).all()
                for card_id, integration_id, digest, sealed in rows:
                    before = tally["unreadable"]
                    new = self._resealed(sealed, card_context(integration_id, digest), tally)
                    if tally["unreadable"] > before:
                        tally["unreadable"] -= 1
                        tally["dropped"] += 1
                        await session.execute(
                            delete(CachedCardRow).where(
                                CachedCardRow.id == card_id, CachedCardRow.sealed_card == sealed
                            )
                        )
                        continue
                    if new is None:
                        continue
                    statement = (
                        update(CachedCardRow)
                        .where(CachedCardRow.id == card_id, CachedCardRow.sealed_card == sealed)
                        .values(sealed_card=new)
                        .execution_options(synchronize_session=False)
                    )
                    await self._swap(session, statement, tally)
            if len(rows) < chunk:
                return tally
            after = rows[-1][0]

    @staticmethod
    async def _swap(
        session: AsyncSession,
        statement: Any,
        tally: Counter[str],
        parameters: dict[str, Any] | None = None,
    ) -> None:
        result = await session.execute(statement, parameters or {})
        tally["resealed" if result.rowcount else "changed_meanwhile"] += 1  # type: ignore[attr-defined]
