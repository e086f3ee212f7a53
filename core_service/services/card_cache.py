"""The till keeps working through a Bloomreach outage (issue 15): a read-through card cache.

``CardCachedCustomers`` is the customer service with its reads wrapped:

* every card a fresh Bloomreach answer builds (search, get, create, update) is remembered,
  off the request's path: ``CardWriter`` queues it for a group commit (one transaction for
  the cards that arrive while the previous one is written, as ``services/batching.py`` does
  for the relay) and skips a card identical to one it stored moments ago, so a healthy till
  pays no database write per search;
* when Bloomreach fails in a way ``domain.card_cache.falls_back`` accepts (down, slow, rate
  limiting, the breaker open, too little deadline left to ask it), search, get and lookup
  answer from the cache, if the integration allows cached reads and holds a live card; the
  answer is marked (``served_from_cache``) for the gRPC layer, which tells the edge;
* anything else (a cache miss, cached reads off, a failure that does not fall back) raises
  Bloomreach's own error, as without a cache;
* a read of a key with a cached card that Bloomreach has not answered within the hedge delay
  is answered from the cache at once while the call goes on (``services/card_hedge.py``).

Purchase history does not degrade: a cached card knows no purchases, and an empty history
would tell the cashier something false. Lookup degrades to the cached card without its
customer_id (a prefill, as Bloomreach's would be).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from core_service.card_cache_metrics import CardCacheMetrics
from core_service.domain.card_cache import (
    CUSTOMER_ID,
    CachedCard,
    CacheStats,
    card_to_json,
    falls_back,
)
from core_service.domain.customer import Customer, CustomerInput, Origin
from core_service.domain.errors import DomainError, StorageError
from core_service.domain.integration import Integration
from core_service.services.card_hedge import Hedge, in_detached_call
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from core_service.services.integrations import IntegrationService
from core_service.services.ports import CardCacheStore, Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

# Cards waiting to be written; beyond it fresh cards are dropped (counted), never queued
# without bound while the database is slow.
MAX_PENDING_WRITES = 10_000
# A card identical to one this process stored less than this long ago is not written again.
REWRITE_AFTER_S = 300.0
RECENT_CARDS = 50_000
# Cards per transaction: on SQLite the write lock is held this long (~30 ms at 50), which the
# webhook's inbox writes wait behind.
GROUP_MAX_CARDS = 50


@dataclass(frozen=True)
class CacheHit:
    """The answer came from the card cache; ``age_s``: how old the card is; ``hedged``:
    Bloomreach had not answered yet (rather than failed)."""

    age_s: float
    hedged: bool = False


_served: ContextVar[CacheHit | None] = ContextVar("card_cache_served", default=None)


def served_from_cache() -> CacheHit | None:
    """Whether the current call's answer came from the cache (read by the gRPC layer)."""
    return _served.get()


class CardWriter:
    """Remembers fresh cards in the background, in group commits: one writer task takes every
    card queued while its previous transaction ran (up to ``GROUP_MAX_CARDS``) into the next
    one. Nothing waits for a group to fill; a lone card is written at once."""

    def __init__(
        self, store: CardCacheStore, metrics: CardCacheMetrics, *, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._queue: deque[tuple[Integration, Customer]] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self._recent: OrderedDict[tuple[int, str], tuple[str, float]] = OrderedDict()

    def offer(self, integration: Integration, card: Customer) -> bool:
        """Remember ``card`` soon; returns at once. True when the card was queued (new or
        changed), False when it is not written (unchanged, dropped, not cached)."""
        if not card.customer_id or not integration.cached_reads:
            return False
        now = self._clock()
        key = (integration.id, card.customer_id)
        fingerprint = hashlib.sha256(card_to_json(card).encode()).hexdigest()
        seen = self._recent.get(key)
        if seen is not None and seen[0] == fingerprint and now - seen[1] < REWRITE_AFTER_S:
            self._metrics.writes.labels("unchanged").inc()
            return False
        if len(self._queue) >= MAX_PENDING_WRITES:
            self._metrics.writes.labels("dropped").inc()
            return False
        self._recent[key] = (fingerprint, now)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_CARDS:
            self._recent.popitem(last=False)
        self._queue.append((integration, card))
        self._idle.clear()
        self._ready.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return True

    async def _work(self) -> None:
        while True:
            await self._ready.wait()
            group = [self._queue.popleft() for _ in range(min(GROUP_MAX_CARDS, len(self._queue)))]
            if not self._queue:
                self._ready.clear()
            if group:
                await self._write(group)
            if not self._queue:
                self._idle.set()

    async def _write(self, group: list[tuple[Integration, Customer]]) -> None:
        try:
            await self._store.remember_many(group, now=self._clock())
        except Exception as exc:  # a cache write never fails a till's call
            for integration, card in group:
                self._recent.pop((integration.id, card.customer_id), None)
            self._metrics.writes.labels("failed").inc(len(group))
            log.warning(
                "card cache write failed",
                extra={"cards": len(group), "error_class": type(exc).__name__},
            )
        else:
            self._metrics.writes.labels("stored").inc(len(group))

    async def drain(self) -> None:
        """Wait until every card offered so far is written (or failed)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None


class CardCachedCustomers(CustomerService):
    """The customer service, reading through the card cache (see the module's text)."""

    def __init__(
        self,
        *args: Any,
        cards: CardCacheStore,
        writer: CardWriter,
        cache_metrics: CardCacheMetrics,
        hedge: Hedge | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._cards = cards
        self._writer = writer
        self._cache_metrics = cache_metrics
        self._hedge = hedge or Hedge(0.0, cards)

    async def search(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        _served.set(None)
        try:
            found = await self._read_or_hedge(
                integration,
                key_type,
                key,
                super().search,
                (integration, key_type, key, deadline),
                lambda cards: self._remember_all(integration, cards),
            )
        except DomainError as exc:
            return [await self._cached(integration, "search", key_type, key, exc)]
        if isinstance(found, CachedCard):
            return [await self._hedged(integration, "search", found)]
        self._remember_all(integration, found)
        return found

    async def get(self, integration: Integration, customer_id: str, deadline: Deadline) -> Customer:
        _served.set(None)
        try:
            card = await self._read_or_hedge(
                integration,
                CUSTOMER_ID,
                customer_id,
                super().get,
                (integration, customer_id, deadline),
                lambda fresh: self._remember(integration, fresh),
            )
        except DomainError as exc:
            return await self._cached(integration, "get", CUSTOMER_ID, customer_id, exc)
        if isinstance(card, CachedCard):
            return await self._hedged(integration, "get", card)
        self._remember(integration, card)
        return card

    async def lookup(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        _served.set(None)
        cached_type = key_type or self.mapping(integration).hard_source
        try:
            found = await self._read_or_hedge(
                integration,
                cached_type,
                key,
                super().lookup,
                (integration, key_type, key, deadline),
                lambda _prefill: None,  # a prefill is no card: nothing to remember
            )
        except DomainError as exc:
            card = await self._cached(integration, "lookup", cached_type, key, exc)
            return [replace(card, customer_id="")]
        if isinstance(found, CachedCard):
            return [replace(await self._hedged(integration, "lookup", found), customer_id="")]
        return found

    def _remember(self, integration: Integration, card: Customer) -> None:
        """Offer a fresh card to the cache; a card newly queued is one hedging can answer."""
        if self._writer.offer(integration, card) and self._hedge.enabled:
            self._hedge.known.add_card(integration, card)

    def _remember_all(self, integration: Integration, cards: list[Customer]) -> None:
        for card in cards:
            self._remember(integration, card)

    async def _read_or_hedge(  # noqa: PLR0917 - the read and what to do with it
        self,
        integration: Integration,
        key_type: str,
        key: str,
        read: Callable[..., Coroutine[Any, Any, T]],
        args: tuple[Any, ...],
        on_success: Callable[[T], None],
    ) -> T | CachedCard:
        """The live read's answer; or, when it is hedged (``services/card_hedge.py``) and
        slow, the cached card standing in while it goes on (``on_success`` then gets its
        answer, if any)."""
        if not self._hedge.worth_it(integration, key_type, key):
            return await read(*args)  # inline: no task
        answer = await self._hedge.race(
            integration, key_type, key, _with_mark(read(*args)), lambda done: on_success(done[0])
        )
        if isinstance(answer, CachedCard):
            return answer
        _served.set(answer[1])
        return answer[0]

    async def _hedged(
        self, integration: Integration, operation: str, found: CachedCard
    ) -> Customer:
        """The answer for a read Bloomreach is slow to answer: as a fallback's, counted apart."""
        age = found.age(self._clock())
        self._cache_metrics.answers.labels(integration.name, operation, "hedged").inc()
        self._cache_metrics.age.labels(integration.name).observe(age)
        _served.set(CacheHit(age, hedged=True))
        log.info(
            "answered from the card cache while Bloomreach is slow",
            extra={
                "integration": integration.name,
                "operation": operation,
                "card_age_s": round(age),
            },
        )
        return await self._current_offers(integration, found.card)

    async def _answered_from_cache(
        self, integration: Integration, operation: str, key_type: str, key: str
    ) -> None:
        """A card whose writes are still queued is the cache's answer too: the same header
        and metric as a fallback, with the card's age."""
        now = self._clock()
        try:
            found = await self._cards.find(integration, key_type, key, now=now)
        except StorageError:
            return
        if found is None or in_detached_call():  # a hedged read's call: counted as hedged
            return
        self._cache_metrics.answers.labels(integration.name, operation, "hit").inc()
        _served.set(CacheHit(found.age(now)))

    async def create(
        self, integration: Integration, data: CustomerInput, origin: Origin, deadline: Deadline
    ) -> Customer:
        card = await super().create(integration, data, origin, deadline)
        self._remember(integration, card)
        return card

    async def update(
        self,
        integration: Integration,
        customer_id: str,
        data: CustomerInput,
        origin: Origin,
        deadline: Deadline,
    ) -> Customer:
        card = await super().update(integration, customer_id, data, origin, deadline)
        self._remember(integration, card)
        return card

    async def _cached(
        self,
        integration: Integration,
        operation: str,
        key_type: str,
        key: str,
        error: DomainError,
    ) -> Customer:
        """The cached card for a failed read, or ``error`` again."""
        if not falls_back(error):
            raise error
        answers = self._cache_metrics.answers
        if not integration.cached_reads:
            answers.labels(integration.name, operation, "off").inc()
            raise error
        now = self._clock()
        try:
            found = await self._cards.find(integration, key_type, key, now=now)
        except StorageError:
            answers.labels(integration.name, operation, "unavailable").inc()
            raise error from None
        if found is None:
            answers.labels(integration.name, operation, "miss").inc()
            raise error
        answers.labels(integration.name, operation, "hit").inc()
        if self._hedge.enabled:
            self._hedge.known.add_card(integration, found.card)  # e.g. cached before a restart
        age = found.age(now)
        self._cache_metrics.age.labels(integration.name).observe(age)
        _served.set(CacheHit(age))
        log.info(
            "answered from the card cache",
            extra={
                "integration": integration.name,
                "operation": operation,
                "card_age_s": round(age),
                "error_class": type(error).__name__,
            },
        )
        return await self._current_offers(integration, found.card)


async def _with_mark(live: Coroutine[Any, Any, T]) -> tuple[T, CacheHit | None]:
    """The read's answer and its cache mark: a task runs in a copy of the caller's context,
    so a mark set inside it (read your writes) is carried out by hand."""
    result = await live
    return result, _served.get()


class CardCacheAdmin:
    """The operator's view of one integration's cache: stats and purge."""

    def __init__(
        self,
        integrations: IntegrationService,
        cards: CardCacheStore,
        *,
        clock: Clock = time.time,
    ) -> None:
        self._integrations = integrations
        self._cards = cards
        self._clock = clock

    async def stats(self, name: str) -> CacheStats:
        return await self._cards.stats(await self._integrations.get(name), now=self._clock())

    async def purge(self, name: str) -> int:
        integration = await self._integrations.get(name)
        purged = await self._cards.purge(integration)
        log.info("card cache purged", extra={"integration": name, "purged": purged})
        return purged
