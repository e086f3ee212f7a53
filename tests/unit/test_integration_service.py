"""The integration service on in-memory stores (services/ports.py's IntegrationStore and
CredentialVerifierSource) with the real SecretBox: who authenticates and how each failure is
told apart. The gRPC and database paths are covered end to end in tests/e2e."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence

import pytest

from core_service.crypto import MasterKey, SecretBox
from core_service.domain.errors import (
    AlreadyExists,
    NotFound,
    StorageError,
    StorageUnavailable,
    Unauthenticated,
    UnknownIntegration,
)
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.stored_integration import CredentialVerifiers, StoredIntegration
from core_service.services.integrations import IntegrationService, IntegrationSettings


class FakeIntegrations:
    """Integrations as column dictionaries; both ports the service needs."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, object]] = {}
        self.unavailable = False

    def _stored(self, name: str) -> StoredIntegration:
        c = self.columns[name]
        integration = Integration(
            id=list(self.columns).index(name) + 1,
            name=name,
            display_name=str(c["display_name"]),
            company=str(c["company"]),
            market=str(c["market"]),
            enabled=bool(c["enabled"]),
            bloomreach=BloomreachAccess("", "", "", None),
            sitoo=SitooAccess(0, "", "", None, 1),
            hard_id_name=str(c["hard_id_name"]),
            hard_id_source_field=str(c["hard_id_source_field"]),
            field_mappings=(),
            consent_types=(),
            spi_username=str(c["spi_username"]),
            webhook_username=str(c["webhook_username"]),
        )
        return StoredIntegration(
            integration, str(c["spi_password_hash"]), str(c["webhook_password_hash"])
        )

    async def add(self, columns: Mapping[str, object]) -> StoredIntegration:
        name = str(columns["name"])
        if name in self.columns:
            raise AlreadyExists(f"integration {name!r} already exists")
        self.columns[name] = dict(columns)
        return self._stored(name)

    async def get(self, name: str) -> StoredIntegration:
        if name not in self.columns:
            raise NotFound(f"integration {name!r} does not exist")
        return self._stored(name)

    async def list(self) -> Sequence[StoredIntegration]:
        return [self._stored(name) for name in sorted(self.columns)]

    async def modify(self, name: str, changes: dict[str, object]) -> StoredIntegration:
        if name not in self.columns:
            raise NotFound(f"integration {name!r} does not exist")
        self.columns[name].update(changes)
        return self._stored(name)

    async def delete(self, name: str) -> None:
        if self.columns.pop(name, None) is None:
            raise NotFound(f"integration {name!r} does not exist")

    def seal(self, name: str, column: str, secret: str) -> str:
        return f"sealed:{secret}"

    async def all(self) -> dict[str, CredentialVerifiers]:
        if self.unavailable:
            raise StorageUnavailable("the database is unavailable", "OperationalError")
        return {
            name: CredentialVerifiers(
                str(c["spi_username"]),
                str(c["spi_password_hash"]),
                str(c["webhook_username"]),
                str(c["webhook_password_hash"]),
                bool(c["enabled"]),
            )
            for name, c in self.columns.items()
        }


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _service(store: FakeIntegrations) -> IntegrationService:
    box = SecretBox(MasterKey.parse(MasterKey.generate()))
    # cache_seconds=0: every call reads the store, so a change is seen at once.
    return IntegrationService(store, box, verifiers=store, cache_seconds=0.0)


def test_issued_credentials_open_their_own_integration_only() -> None:
    async def run() -> None:
        store = FakeIntegrations()
        service = _service(store)
        acme, acme_keys = await service.create("acme", IntegrationSettings())
        _, other_keys = await service.create("other", IntegrationSettings())
        assert acme.spi_username == acme_keys.spi_username == "acme-spi"
        assert acme_keys.spi_password and acme_keys.webhook_password
        assert store.columns["acme"]["spi_password_hash"] != acme_keys.spi_password  # a verifier

        webhook = _basic(acme_keys.webhook_username, acme_keys.webhook_password or "")
        assert (await service.authenticate("acme", "webhook", webhook)).name == "acme"
        # The webhook credential is not the SPI one, and not another tenant's.
        with pytest.raises(Unauthenticated) as wrong_kind:
            await service.authenticate("acme", "spi", webhook)
        assert not isinstance(wrong_kind.value, UnknownIntegration)
        other = _basic(other_keys.webhook_username, other_keys.webhook_password or "")
        with pytest.raises(Unauthenticated):
            await service.authenticate("acme", "webhook", other)
        with pytest.raises(AlreadyExists):
            await service.create("acme", IntegrationSettings())

    asyncio.run(run())


def test_unknown_disabled_and_unreachable_are_told_apart() -> None:
    async def run() -> None:
        store = FakeIntegrations()
        service = _service(store)
        _, keys = await service.create("acme", IntegrationSettings())
        spi = _basic(keys.spi_username, keys.spi_password or "")
        with pytest.raises(UnknownIntegration):
            await service.authenticate("nobody", "spi", spi)
        await service.update("acme", IntegrationSettings(enabled=False))
        with pytest.raises(Unauthenticated, match="disabled"):
            await service.authenticate("acme", "spi", spi)
        await service.delete("acme")
        with pytest.raises(UnknownIntegration):
            await service.authenticate("acme", "spi", spi)
        # The store's failure reaches the caller as the domain's storage error, which the
        # gRPC layer answers with UNAVAILABLE (grpc_api/order_events.py).
        store.unavailable = True
        with pytest.raises(StorageError):
            await service.authenticate("acme", "spi", spi)

    asyncio.run(run())
