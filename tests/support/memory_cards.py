"""The card cache store port (``services.ports.CardCacheStore``) in memory, for service-level
tests (the real one: ``adapters/db/card_cache_repo.py``, tested in tests/db)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core_service.domain.card_cache import CachedCard, CacheStats, index_keys, normalised_key
from core_service.domain.customer import Customer
from core_service.domain.errors import StorageUnavailable
from core_service.domain.integration import Integration


class MemoryCards:
    """The CardCacheStore port in memory (keyed like the adapter: integration, key type,
    normalised key)."""

    def __init__(self) -> None:
        self.cards: dict[tuple[int, str, str], CachedCard] = {}
        self.flushes: list[int] = []
        self.fail_reads = False
        self.fail_writes = False
        self.gate: asyncio.Event | None = None

    async def remember(self, integration: Integration, card: Customer, *, now: float) -> None:
        await self.remember_many([(integration, card)], now=now)

    async def remember_many(
        self, cards: Sequence[tuple[Integration, Customer]], *, now: float
    ) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_writes:
            raise StorageUnavailable("down")
        self.flushes.append(len(cards))
        for integration, card in cards:
            for key_type, key in index_keys(integration, card):
                self.cards[(integration.id, key_type, key)] = CachedCard(card, now)

    async def find(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> CachedCard | None:
        if self.fail_reads:
            raise StorageUnavailable("down")
        normalised = normalised_key(integration, key_type, key)
        return self.cards.get((integration.id, key_type, normalised or ""))

    async def recall_by_id(
        self, integration: Integration, customer_id: str, *, now: float
    ) -> Customer | None:
        found = await self.find(integration, "customer_id", customer_id, now=now)
        return None if found is None else found.card

    async def recall_by_key(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> Customer | None:
        found = await self.find(integration, key_type, key, now=now)
        return None if found is None else found.card

    async def stats(self, integration: Integration, *, now: float) -> CacheStats:
        raise NotImplementedError

    async def purge(self, integration: Integration) -> int:
        raise NotImplementedError
