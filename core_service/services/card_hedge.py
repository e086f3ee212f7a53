"""Hedged reads: a till is not kept waiting on a hanging Bloomreach when the card cache can
answer (issue 15's gap: a call that hangs used to cost up to the Bloomreach timeout until the
circuit opened, and again on every probe).

For a read of a key with a cached card, the live call runs as a task; if it has not answered
within the hedge delay, the till is answered from the cache and the call goes on *detached*, up
to its own timeout, still holding its call slot (services/call_gate.py) and feeding the circuit
breaker (services/circuit_breakers.py) as any call does; a success still refreshes the cache.

Cheap when it cannot help: a read of a key this process knows no cached card for (``KnownKeys``)
or with hedging off runs inline as before, without a task. Bounded: at most
``max_detached`` calls go on detached; beyond that the till waits as before (the call gate
bounds the calls per integration anyway). ``close`` cancels the detached calls on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from core_service.domain.card_cache import CachedCard, index_keys, normalised_key
from core_service.domain.customer import Customer
from core_service.domain.errors import StorageError
from core_service.domain.integration import Integration
from core_service.services.ports import CardCacheStore, Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

# Detached live calls at most (all integrations); beyond, the till waits for its call.
MAX_DETACHED = 1024
# Search keys remembered as having a cached card (~100 bytes each: a hash, not the key).
KNOWN_KEYS = 200_000


@dataclass
class _Race:
    detached: bool = False  # the till was answered from the cache; the call goes on alone


_race: ContextVar[_Race | None] = ContextVar("card_hedge_race", default=None)


async def _run(live: Coroutine[Any, Any, T], race: _Race) -> T:
    _race.set(race)  # in the task's own context
    return await live


def in_detached_call() -> bool:
    """Whether the current code runs in a call whose till was already answered from the cache
    (what it would tell the till, and count as told, goes nowhere)."""
    race = _race.get()
    return race is not None and race.detached


class KnownKeys:
    """Which (integration, key type, normalised key) this process has seen a cached card for:
    cards it offered to the cache or answered from it. A hint, kept as hashes and forgetting
    the oldest beyond ``limit``: a false "known" costs a task and a cache lookup after the hedge
    delay (then the till waits for its call as before), a false "unknown" a read unhedged."""

    def __init__(self, limit: int = KNOWN_KEYS) -> None:
        self._limit = limit
        self._keys: dict[int, None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add_card(self, integration: Integration, card: Customer) -> None:
        keys = self._keys
        for key_type, key in index_keys(integration, card):
            marker = hash((integration.id, key_type, key))
            keys.pop(marker, None)  # re-added at the young end
            keys[marker] = None
        while len(keys) > self._limit:
            del keys[next(iter(keys))]

    def knows(self, integration: Integration, key_type: str, key: str) -> bool:
        normal = normalised_key(integration, key_type, key)
        return normal is not None and hash((integration.id, key_type, normal)) in self._keys


class Hedge:
    """Races live reads against the hedge delay and keeps the calls it detached."""

    def __init__(
        self,
        delay_s: float,
        cards: CardCacheStore,
        *,
        clock: Clock = time.time,
        max_detached: int = MAX_DETACHED,
    ) -> None:
        self.delay_s = delay_s
        self._cards = cards
        self._clock = clock
        self._max_detached = max_detached
        self._detached: set[asyncio.Task[Any]] = set()
        self.known = KnownKeys()

    @property
    def enabled(self) -> bool:
        return self.delay_s > 0

    @property
    def detached(self) -> int:
        return len(self._detached)

    def worth_it(self, integration: Integration, key_type: str, key: str) -> bool:
        """Whether a read of this key is raced at all (else it runs inline, as before)."""
        return (
            self.delay_s > 0
            and integration.cached_reads
            and len(self._detached) < self._max_detached
            and self.known.knows(integration, key_type, key)
        )

    async def race(
        self,
        integration: Integration,
        key_type: str,
        key: str,
        live: Coroutine[Any, Any, T],
        on_success: Callable[[T], None],
    ) -> T | CachedCard:
        """The live read's answer if it comes within the hedge delay, or if no cached card
        can stand in; else the cached card, the live call going on detached (``on_success``
        gets its answer). The caller going away cancels the call, as it would an awaited one."""
        loop = asyncio.get_running_loop()
        race = _Race()
        task = loop.create_task(_run(live, race))
        # One future woken by whichever comes first: cheaper than asyncio.wait (which every
        # hedged read would pay on the healthy path too).
        woken = loop.create_future()

        def wake(_: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        timer = loop.call_later(self.delay_s, wake)
        task.add_done_callback(wake)
        try:
            await woken
            if not task.done():
                found = await self._stand_in(integration, key_type, key)
                if found is not None and not task.done() and self._detach(task, on_success):
                    race.detached = True
                    return found
        except BaseException:
            task.cancel()
            raise
        finally:
            timer.cancel()
            task.remove_done_callback(wake)
        return await task

    async def _stand_in(
        self, integration: Integration, key_type: str, key: str
    ) -> CachedCard | None:
        try:
            return await self._cards.find(integration, key_type, key, now=self._clock())
        except StorageError:
            return None  # the till waits for its call, as without hedging

    def _detach(self, task: asyncio.Task[T], on_success: Callable[[T], None]) -> bool:
        """Let the task run on without a caller; False (keep waiting) when too many do."""
        if len(self._detached) >= self._max_detached:
            return False
        self._detached.add(task)

        def settled(done: asyncio.Task[T]) -> None:
            self._detached.discard(done)
            if done.cancelled():
                return
            # Retrieved, so never "never retrieved": a failure was counted and logged already.
            if done.exception() is None:
                try:
                    on_success(done.result())
                except Exception:  # a cache refresh must not break the loop's callbacks
                    log.exception("refreshing the card cache after a hedged read failed")

        task.add_done_callback(settled)
        return True

    async def settle(self) -> None:
        """Wait until the detached calls have finished (their answers taken)."""
        await asyncio.gather(*self._detached, return_exceptions=True)

    async def close(self) -> None:
        """Cancel the detached calls (shutdown: nobody waits for their answers)."""
        tasks = list(self._detached)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
