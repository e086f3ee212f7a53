"""Integrations in the database: rows <-> domain objects, secrets sealed and opened here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import IntegrationRow
from core_service.crypto import SecretBox
from core_service.domain.errors import AlreadyExists, NotFound
from core_service.domain.integration import (
    BloomreachAccess,
    ConsentType,
    EnrichmentRule,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.domain.loyalty_config import LoyaltyConfig
from core_service.domain.stored_integration import StoredIntegration


def secret_context(name: str, column: str) -> str:
    """Associated data binding a sealed secret to its integration and column."""
    return f"integration/{name}/{column}"


class IntegrationRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    def _to_domain(self, row: IntegrationRow) -> StoredIntegration:
        def opened(column: str, value: str | None) -> str | None:
            if value is None:
                return None
            return self._box.open(value, context=secret_context(row.name, column))

        integration = Integration(
            id=row.id,
            name=row.name,
            display_name=row.display_name,
            company=row.company,
            market=row.market,
            enabled=row.enabled,
            bloomreach=BloomreachAccess(
                api_base_url=row.bloomreach_api_base_url,
                project_token=row.bloomreach_project_token,
                api_key_id=row.bloomreach_api_key_id,
                api_secret=opened("bloomreach_api_secret", row.bloomreach_api_secret_enc),
            ),
            sitoo=SitooAccess(
                account_id=row.sitoo_account_id,
                api_base_url=row.sitoo_api_base_url,
                api_id=row.sitoo_api_id,
                api_password=opened("sitoo_api_password", row.sitoo_api_password_enc),
                site_id=row.sitoo_site_id,
            ),
            hard_id_name=row.hard_id_name,
            hard_id_source_field=row.hard_id_source_field,
            field_mappings=tuple(FieldMapping(**m) for m in row.field_mappings),
            consent_types=tuple(ConsentType(**c) for c in row.consent_types),
            channel_categories=dict(row.channel_categories),
            enrichment_rules=tuple(
                EnrichmentRule(**{**r, "voucher_passwords": tuple(r.get("voucher_passwords", ()))})
                for r in row.enrichment_rules
            ),
            loyalty=LoyaltyConfig.from_json(row.loyalty),
            spi_username=row.spi_username,
            webhook_username=row.webhook_username,
            created_at=row.created_at,
            updated_at=row.updated_at,
            cached_reads=row.cached_reads,
            queued_writes=row.queued_writes,
            card_cache_max_cards=row.card_cache_max_cards,
            card_cache_ttl_seconds=row.card_cache_ttl_seconds,
        )
        return StoredIntegration(integration, row.spi_password_hash, row.webhook_password_hash)

    def seal(self, name: str, column: str, secret: str) -> str:
        return self._box.seal(secret, context=secret_context(name, column))

    async def add(self, columns: Mapping[str, object]) -> StoredIntegration:
        """A new integration from its column values."""
        row = IntegrationRow(**columns)
        async with self._sessions.begin() as session:
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise AlreadyExists(f"integration {row.name!r} already exists") from exc
            return self._to_domain(row)

    @translated
    async def get(self, name: str) -> StoredIntegration:
        async with self._sessions() as session:
            row = await session.scalar(select(IntegrationRow).where(IntegrationRow.name == name))
            if row is None:
                raise NotFound(f"integration {name!r} does not exist")
            return self._to_domain(row)

    async def list(self) -> Sequence[StoredIntegration]:
        async with self._sessions() as session:
            rows = await session.scalars(select(IntegrationRow).order_by(IntegrationRow.name))
            return [self._to_domain(row) for row in rows]

    async def modify(self, name: str, changes: dict[str, object]) -> StoredIntegration:
        """Apply column changes in one transaction and return the new state."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(IntegrationRow).where(IntegrationRow.name == name).with_for_update()
            )
            if row is None:
                raise NotFound(f"integration {name!r} does not exist")
            for column, value in changes.items():
                setattr(row, column, value)
            await session.flush()
            return self._to_domain(row)

    async def delete(self, name: str) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(IntegrationRow).where(IntegrationRow.name == name)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"integration {name!r} does not exist")
