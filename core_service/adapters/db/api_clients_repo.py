"""API clients and their token verifiers in the database."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.models import ApiClientRow, ApiClientTokenRow
from core_service.domain.api_clients import StoredClient, StoredToken
from core_service.domain.errors import AlreadyExists, NotFound


def _token(row: ApiClientTokenRow) -> StoredToken:
    return StoredToken(row.key_id, row.verifier, row.created_at, row.expires_at)


class ApiClientRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        name: str,
        scopes: frozenset[str],
        tls_subject: str | None,
        *,
        key_id: str,
        verifier: str,
        now: float,
    ) -> StoredClient:
        try:
            async with self._sessions.begin() as session:
                row = ApiClientRow(
                    name=name,
                    scopes=" ".join(sorted(scopes)),
                    tls_subject=tls_subject,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                session.add(
                    ApiClientTokenRow(
                        client_id=row.id, key_id=key_id, verifier=verifier, created_at=now
                    )
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a client named {name!r} or with that TLS subject already exists"
            ) from exc
        return await self.get(name)

    async def get(self, name: str) -> StoredClient:
        for client in await self._load(name):
            return client
        raise NotFound(f"no client named {name!r}")

    async def list_clients(self) -> list[StoredClient]:
        return await self._load(None)

    async def _load(self, name: str | None) -> list[StoredClient]:
        async with self._sessions() as session:
            query = select(ApiClientRow).order_by(ApiClientRow.name)
            if name is not None:
                query = query.where(ApiClientRow.name == name)
            clients = (await session.scalars(query)).all()
            if not clients:
                return []
            tokens_query = (
                select(ApiClientTokenRow)
                .where(ApiClientTokenRow.client_id.in_([c.id for c in clients]))
                .order_by(ApiClientTokenRow.id)
            )
            tokens: dict[int, list[StoredToken]] = defaultdict(list)
            for token in (await session.scalars(tokens_query)).all():
                tokens[token.client_id].append(_token(token))
        return [
            StoredClient(
                name=c.name,
                scopes=frozenset(c.scopes.split()),
                tls_subject=c.tls_subject,
                created_at=c.created_at,
                tokens=tuple(tokens[c.id]),
            )
            for c in clients
        ]

    async def _client_id(self, session: AsyncSession, name: str) -> int:
        found = await session.scalar(
            select(ApiClientRow.id).where(ApiClientRow.name == name).with_for_update()
        )
        if found is None:
            raise NotFound(f"no client named {name!r}")
        return found

    async def add_token(
        self, name: str, key_id: str, verifier: str, now: float, old_until: float
    ) -> StoredClient:
        """The new token becomes current; every older one stays valid until ``old_until``
        at the latest (sooner if it already ended sooner); tokens already over are dropped."""
        async with self._sessions.begin() as session:
            client_id = await self._client_id(session, name)
            mine = ApiClientTokenRow.client_id == client_id
            await session.execute(
                delete(ApiClientTokenRow).where(mine, ApiClientTokenRow.expires_at <= now)
            )
            await session.execute(
                update(ApiClientTokenRow)
                .where(
                    mine,
                    (ApiClientTokenRow.expires_at.is_(None))
                    | (ApiClientTokenRow.expires_at > old_until),
                )
                .values(expires_at=old_until)
            )
            session.add(
                ApiClientTokenRow(
                    client_id=client_id, key_id=key_id, verifier=verifier, created_at=now
                )
            )
            await session.execute(
                update(ApiClientRow).where(ApiClientRow.id == client_id).values(updated_at=now)
            )
        return await self.get(name)

    async def revoke_old(self, name: str) -> StoredClient:
        """Ends the overlap of a rotation now: only the newest token stays."""
        async with self._sessions.begin() as session:
            client_id = await self._client_id(session, name)
            mine = ApiClientTokenRow.client_id == client_id
            newest = await session.scalar(select(func.max(ApiClientTokenRow.id)).where(mine))
            await session.execute(
                delete(ApiClientTokenRow).where(mine, ApiClientTokenRow.id != newest)
            )
        return await self.get(name)

    async def delete(self, name: str) -> None:
        async with self._sessions.begin() as session:
            client_id = await self._client_id(session, name)
            # Tokens go too (ON DELETE CASCADE; explicit for engines that do not enforce it).
            await session.execute(
                delete(ApiClientTokenRow).where(ApiClientTokenRow.client_id == client_id)
            )
            await session.execute(delete(ApiClientRow).where(ApiClientRow.id == client_id))
