"""The verifiers of the credentials Sitoo presents, for every integration, in one query.

Only names, usernames, verifier hashes and the enabled flag: nothing sealed is opened, so
reading all of them is cheap enough to do every few seconds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import IntegrationRow
from core_service.domain.stored_integration import CredentialVerifiers


class CredentialVerifiersRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @translated
    async def all(self) -> dict[str, CredentialVerifiers]:
        query = select(
            IntegrationRow.name,
            IntegrationRow.spi_username,
            IntegrationRow.spi_password_hash,
            IntegrationRow.webhook_username,
            IntegrationRow.webhook_password_hash,
            IntegrationRow.enabled,
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {row[0]: CredentialVerifiers(*row[1:]) for row in rows}
