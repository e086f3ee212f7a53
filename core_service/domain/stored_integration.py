"""What the integration store hands the services: an integration with the verifiers of the
credentials Sitoo presents to us. Plain values; the database rows stay in the adapters."""

from __future__ import annotations

from dataclasses import dataclass

from core_service.domain.integration import Integration


@dataclass(frozen=True)
class StoredIntegration:
    """An integration with the verifiers of the credentials Sitoo presents to us."""

    integration: Integration
    spi_password_hash: str
    webhook_password_hash: str


@dataclass(frozen=True)
class CredentialVerifiers:
    """One integration's usernames and verifier hashes, and whether it is enabled."""

    spi_username: str
    spi_password_hash: str
    webhook_username: str
    webhook_password_hash: str
    enabled: bool
