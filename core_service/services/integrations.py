"""Integration management and the authentication of Sitoo's calls."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core_service.crypto import SecretBox, generate_password
from core_service.domain.card_cache import validate_cache_settings
from core_service.domain.errors import NotFound, Unauthenticated, UnknownIntegration
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    ConsentType,
    EnrichmentRule,
    FieldMapping,
    Integration,
    validate_channel_categories,
    validate_consent_types,
    validate_enrichment_rules,
    validate_field_mappings,
    validate_hard_id,
    validate_market,
    validate_name,
    validate_url,
)
from core_service.domain.loyalty_config import LoyaltyConfig, configure
from core_service.metrics import CoreMetrics
from core_service.services.credential_directory import CredentialDirectory, CredentialKind
from core_service.services.ports import CredentialVerifierSource, IntegrationStore


@dataclass
class IntegrationSettings:
    """Writable settings. ``None`` means "not given": default on create, unchanged on update."""

    display_name: str | None = None
    company: str | None = None
    market: str | None = None
    bloomreach_api_base_url: str | None = None
    bloomreach_project_token: str | None = None
    bloomreach_api_key_id: str | None = None
    bloomreach_api_secret: str | None = None
    hard_id_name: str | None = None
    hard_id_source_field: str | None = None
    field_mappings: list[FieldMapping] | None = None
    consent_types: list[ConsentType] | None = None
    channel_categories: dict[str, str] | None = None
    enrichment_rules: list[EnrichmentRule] | None = None
    sitoo_account_id: int | None = None
    sitoo_api_base_url: str | None = None
    sitoo_api_id: str | None = None
    sitoo_api_password: str | None = None
    sitoo_site_id: int | None = None
    enabled: bool | None = None
    # Issue 15: outage behaviour.
    cached_reads: bool | None = None
    queued_writes: bool | None = None
    card_cache_max_cards: int | None = None
    card_cache_ttl_seconds: int | None = None
    # LoyaltyConfig field name -> new value; the others stay as they are (defaults on create).
    loyalty: dict[str, object] | None = None


@dataclass(frozen=True)
class IssuedCredentials:
    spi_username: str
    spi_password: str | None
    webhook_username: str
    webhook_password: str | None


_PLAIN_COLUMNS = (
    "display_name",
    "company",
    "market",
    "bloomreach_api_base_url",
    "bloomreach_project_token",
    "bloomreach_api_key_id",
    "hard_id_name",
    "hard_id_source_field",
    "sitoo_account_id",
    "sitoo_api_base_url",
    "sitoo_api_id",
    "sitoo_site_id",
    "enabled",
    "cached_reads",
    "queued_writes",
    "card_cache_max_cards",
    "card_cache_ttl_seconds",
)
_SECRET_COLUMNS = {
    "bloomreach_api_secret": "bloomreach_api_secret_enc",
    "sitoo_api_password": "sitoo_api_password_enc",
}


def _loyalty_column(
    settings: IntegrationSettings, current: Integration | None
) -> dict[str, object]:
    if not settings.loyalty:
        return {}
    base = current.loyalty if current else LoyaltyConfig()
    return {"loyalty": configure(base, settings.loyalty).to_json()}


def parse_basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated("HTTP Basic credentials required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("malformed Basic credentials")
    return username, password


class IntegrationService:
    def __init__(
        self,
        repository: IntegrationStore,
        box: SecretBox,
        *,
        verifiers: CredentialVerifierSource,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        metrics: CoreMetrics | None = None,
    ) -> None:
        self._repo = repository
        self._box = box
        self._credentials = CredentialDirectory(
            verifiers.all, box, ttl=cache_seconds, metrics=metrics
        )
        # Authenticated integrations only (so bounded by the real ones), for cache_seconds.
        self._cache_seconds = cache_seconds
        self._loaded: dict[str, tuple[float, Integration]] = {}
        self._clock = clock

    # ---- administration ----

    async def create(
        self, name: str, settings: IntegrationSettings
    ) -> tuple[Integration, IssuedCredentials]:
        validate_name(name)
        now = self._clock()
        spi_password = generate_password()
        webhook_password = generate_password()
        # Column values: the repository builds its row from them.
        columns: dict[str, object] = dict(
            name=name,
            display_name=name,
            company="",
            market="",
            enabled=True,
            bloomreach_api_base_url="",
            bloomreach_project_token="",
            bloomreach_api_key_id="",
            hard_id_name="registered",
            hard_id_source_field="email",
            field_mappings=[{"sitoo_field": f, "target": t} for f, t in DEFAULT_FIELD_MAPPINGS],
            consent_types=[],
            channel_categories={},
            enrichment_rules=[],
            loyalty={},
            sitoo_account_id=0,
            sitoo_api_base_url="",
            sitoo_api_id="",
            sitoo_site_id=1,
            spi_username=f"{name}-spi",
            spi_password_hash=self._box.credential_hash(spi_password),
            webhook_username=f"{name}-webhook",
            webhook_password_hash=self._box.credential_hash(webhook_password),
            created_at=now,
            updated_at=now,
        )
        columns.update(self._columns(name, settings, current=None))
        stored = await self._repo.add(columns)
        self._forget(name)
        created = stored.integration
        credentials = IssuedCredentials(
            created.spi_username, spi_password, created.webhook_username, webhook_password
        )
        return stored.integration, credentials

    async def get(self, name: str) -> Integration:
        return (await self._repo.get(name)).integration

    async def list(self) -> Sequence[Integration]:
        return [stored.integration for stored in await self._repo.list()]

    async def update(self, name: str, settings: IntegrationSettings) -> Integration:
        current = (await self._repo.get(name)).integration
        changes = self._columns(name, settings, current=current)
        changes["updated_at"] = self._clock()
        stored = await self._repo.modify(name, changes)
        self._forget(name)
        return stored.integration

    async def rotate_credentials(self, name: str, *, spi: bool, webhook: bool) -> IssuedCredentials:
        changes: dict[str, object] = {"updated_at": self._clock()}
        spi_password = generate_password() if spi else None
        webhook_password = generate_password() if webhook else None
        if spi_password is not None:
            changes["spi_password_hash"] = self._box.credential_hash(spi_password)
        if webhook_password is not None:
            changes["webhook_password_hash"] = self._box.credential_hash(webhook_password)
        stored = await self._repo.modify(name, changes)
        self._forget(name)
        integration = stored.integration
        return IssuedCredentials(
            integration.spi_username, spi_password, integration.webhook_username, webhook_password
        )

    async def delete(self, name: str) -> None:
        await self._repo.delete(name)
        self._forget(name)

    def _columns(
        self, name: str, settings: IntegrationSettings, current: Integration | None
    ) -> dict[str, object]:
        """Validate the given settings and turn them into column values."""
        changes: dict[str, object] = {}
        validate_cache_settings(settings.card_cache_max_cards, settings.card_cache_ttl_seconds)
        for column in _PLAIN_COLUMNS:
            value = getattr(settings, column)
            if value is not None:
                changes[column] = value
        if settings.market is not None:
            changes["market"] = validate_market(settings.market.upper())
        for column in ("bloomreach_api_base_url", "sitoo_api_base_url"):
            value = getattr(settings, column)
            if value is not None:
                changes[column] = validate_url(value, column)
        hard_id_name = settings.hard_id_name or (current.hard_id_name if current else "registered")
        hard_id_source = settings.hard_id_source_field or (
            current.hard_id_source_field if current else "email"
        )
        validate_hard_id(hard_id_name, hard_id_source)
        if settings.field_mappings is not None:
            mappings = validate_field_mappings(settings.field_mappings)
            changes["field_mappings"] = [
                {"sitoo_field": m.sitoo_field, "target": m.target} for m in mappings
            ]
        if settings.consent_types is not None:
            consents = validate_consent_types(settings.consent_types)
            changes["consent_types"] = [vars(c).copy() for c in consents]
        if settings.channel_categories is not None:
            changes["channel_categories"] = validate_channel_categories(settings.channel_categories)
        if settings.enrichment_rules is not None:
            changes["enrichment_rules"] = [
                {**vars(r), "voucher_passwords": list(r.voucher_passwords)}
                for r in validate_enrichment_rules(settings.enrichment_rules)
            ]
        for field_name, column in _SECRET_COLUMNS.items():
            secret = getattr(settings, field_name)
            if secret is not None:
                changes[column] = self._repo.seal(name, field_name, secret) if secret else None
        changes.update(_loyalty_column(settings, current))
        return changes

    # ---- authentication of Sitoo's calls ----

    def _forget(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._credentials.forget()

    async def _integration(self, name: str) -> Integration:
        now = time.monotonic()
        cached = self._loaded.get(name)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            integration = (await self._repo.get(name)).integration
        except NotFound:
            # Deleted since the verifiers were read: as unknown as any other name.
            raise UnknownIntegration("invalid credentials") from None
        self._loaded[name] = (now, integration)
        return integration

    async def authenticate(
        self, name: str, kind: CredentialKind, authorization: str
    ) -> Integration:
        """The integration named in the URL, if ``authorization`` is its credential of ``kind``.

        Only that integration's verifier is consulted, so one tenant's credential can never open
        another's data. Unknown names and wrong credentials fail alike and take the same work.
        """
        username, password = parse_basic(authorization)
        verifiers = await self._credentials.find(name)
        # Checked even when the name is unknown (against a dummy), so the work is the same.
        ok = self._credentials.check(verifiers, kind, username, password)
        if verifiers is None:
            raise UnknownIntegration("invalid credentials")
        if not ok:
            raise Unauthenticated("invalid credentials")
        if not verifiers.enabled:
            raise Unauthenticated("integration is disabled")
        return await self._integration(name)
