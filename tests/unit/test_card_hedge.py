"""Hedged reads (services/card_hedge.py) at the service level, with an in-memory card store and a
Bloomreach that hangs until the test lets it answer: a known customer is answered from the cache
while the call goes on, and its late answer still refreshes the cache; an unknown one waits for
the call; the detached calls are bounded and cancelled on close; the caller going away cancels
its call. The real processes (breaker, call slots, the emulator's hang): tests/e2e/test_hedge.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from core_service.adapters.http_client import HttpClients
from core_service.adapters.upstream import HttpUpstream
from core_service.card_cache_metrics import CardCacheMetrics
from core_service.domain.customer import Customer
from core_service.domain.errors import NotFound, UpstreamTimeout
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.card_cache import CardCachedCustomers, CardWriter, served_from_cache
from core_service.services.card_hedge import Hedge, KnownKeys, in_detached_call
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from tests.support.memory_cards import MemoryCards

NOW = 1_800_000_000.0
ANNA = Customer("anna@example.se", {"email": "anna@example.se", "mobile": "+46701234567"})
ACME = Integration(
    id=1,
    name="tenant1",
    display_name="Acme",
    company="Acme AB",
    market="SE",
    enabled=True,
    bloomreach=BloomreachAccess("http://br", "token", "key", "secret"),
    sitoo=SitooAccess(1, "http://sitoo", "id", "pw", 1),
    hard_id_name="registered",
    hard_id_source_field="email",
    field_mappings=(),
    consent_types=(),
)


class HangingBloomreach(CustomerService):
    """Answers ``answer`` at once, or, while ``hang`` is set, only once ``release`` is set
    (``error`` then raised instead, if given); counts the calls it saw cancelled."""

    answer: Customer = ANNA
    hang = False
    error: Exception | None = None
    release: asyncio.Event
    saw_cancel: asyncio.Event
    cancelled = 0
    detached_seen = False

    async def _answer(self) -> Customer:
        if self.hang:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                self.saw_cancel.set()
                raise
        # What a read-your-writes answer inside the call would check before counting itself.
        self.detached_seen = in_detached_call()
        if self.error is not None:
            raise self.error
        return self.answer

    async def search(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        return [await self._answer()]

    async def get(self, integration: Integration, customer_id: str, deadline: Deadline) -> Customer:
        return await self._answer()

    async def lookup(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        return [replace(await self._answer(), customer_id="")]


class Service(CardCachedCustomers, HangingBloomreach):
    pass


class Parts:
    def __init__(self, delay_s: float, max_detached: int) -> None:
        core = CoreMetrics.create()
        self.cards = MemoryCards()
        self.metrics = CardCacheMetrics.create(core.registry)
        self.writer = CardWriter(self.cards, self.metrics, clock=lambda: NOW)
        self.hedge = Hedge(delay_s, self.cards, clock=lambda: NOW + 60, max_detached=max_detached)
        self.service = Service(
            BloomreachClients(HttpUpstream(HttpClients())),
            core,
            bloomreach_timeout_s=5.0,
            history_limit=10,
            gates=CallGates(4, 4, core),
            clock=lambda: NOW + 60,
            cards=self.cards,
            writer=self.writer,
            cache_metrics=self.metrics,
            hedge=self.hedge,
        )
        self.service.release = asyncio.Event()
        self.service.saw_cancel = asyncio.Event()

    def count(self, outcome: str, operation: str = "search") -> float:
        return float(self.metrics.answers.labels("tenant1", operation, outcome)._value.get())

    async def known(self) -> None:
        """Anna answered live once, and her card written."""
        assert await self.service.search(ACME, "email", "anna@example.se", Deadline.after(8))
        await self.writer.drain()


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Parts]]:
    made: list[Parts] = []

    def build(delay_s: float = 0.01, max_detached: int = 16) -> Parts:
        made.append(Parts(delay_s, max_detached))
        return made[-1]

    yield build
    for parts in made:
        await parts.hedge.close()
        await parts.writer.close()


@pytest.fixture
def parts(make: Callable[..., Parts]) -> Parts:
    return make()


async def test_a_known_customer_is_answered_from_the_cache_while_the_call_goes_on(
    parts: Parts,
) -> None:
    await parts.known()
    service = parts.service
    service.hang = True
    deadline = Deadline.after(8)
    # The release is never set before these answer: they cannot have come from Bloomreach.
    assert await service.search(ACME, "mobile", "070-123 45 67", deadline) == [ANNA]
    hit = served_from_cache()
    assert hit is not None and hit.hedged and hit.age_s == 60
    assert await service.get(ACME, "Anna@Example.se", deadline) == ANNA
    assert await service.lookup(ACME, "", "anna@example.se", deadline) == [
        replace(ANNA, customer_id="")
    ]
    assert (parts.count("hedged"), parts.count("hedged", "get")) == (1, 1)
    assert parts.count("hedged", "lookup") == 1 and parts.count("hit") == 0
    assert parts.hedge.detached == 3
    # Bloomreach answers late with a changed card: the cache is refreshed as by any read.
    newer = replace(ANNA, fields={**ANNA.fields, "name_first": "Anna-Lena"})
    service.answer = newer
    service.release.set()
    await parts.hedge.settle()
    await parts.writer.drain()
    found = await parts.cards.find(ACME, "email", "anna@example.se", now=NOW)
    assert found is not None and found.card == newer
    assert service.detached_seen  # the calls knew their tills were answered
    # Healthy again: a live answer, unmarked.
    service.hang = False
    assert await service.search(ACME, "email", "anna@example.se", deadline) == [newer]
    assert served_from_cache() is None and not service.detached_seen


async def test_a_late_failure_is_not_remembered_and_a_fast_one_falls_back_as_before(
    parts: Parts,
) -> None:
    await parts.known()
    service = parts.service
    service.hang, service.error = True, UpstreamTimeout("Bloomreach did not answer in time")
    assert await service.search(ACME, "email", "anna@example.se", Deadline.after(8)) == [ANNA]
    service.release.set()
    await parts.hedge.settle()
    # An answer within the delay is the live one: here Bloomreach's failure, then the cache.
    service.hang = False
    assert await service.search(ACME, "email", "anna@example.se", Deadline.after(8)) == [ANNA]
    hit = served_from_cache()
    assert hit is not None and not hit.hedged
    assert (parts.count("hedged"), parts.count("hit")) == (1, 1)
    # Bloomreach's own answer stands when it is not a failure the cache rides out.
    service.error = NotFound("no such customer")
    with pytest.raises(NotFound):
        await service.get(ACME, "anna@example.se", Deadline.after(8))


async def test_a_customer_without_a_cached_card_waits_for_the_call(parts: Parts) -> None:
    service = parts.service
    service.hang = True
    assert not parts.hedge.worth_it(ACME, "email", "anna@example.se")  # no task is made
    search = asyncio.create_task(
        service.search(ACME, "email", "anna@example.se", Deadline.after(8))
    )
    await asyncio.sleep(0.05)  # well past the 0.01 s hedge delay
    assert not search.done()
    service.release.set()
    assert await search == [ANNA]
    assert parts.count("hedged") == 0 and parts.hedge.detached == 0


async def test_detached_calls_are_bounded_and_cancelled_on_close(
    make: Callable[..., Parts],
) -> None:
    parts = make(max_detached=1)
    await parts.known()
    service = parts.service
    service.hang = True
    assert await service.search(ACME, "email", "anna@example.se", Deadline.after(8)) == [ANNA]
    assert parts.hedge.detached == 1
    # The bound reached: the next read of a known customer waits for its call, as before.
    assert not parts.hedge.worth_it(ACME, "email", "anna@example.se")
    waiting = asyncio.create_task(service.get(ACME, "anna@example.se", Deadline.after(8)))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # Shutdown cancels the detached call; the waiting one is its caller's to cancel.
    await parts.hedge.close()
    assert parts.hedge.detached == 0 and service.cancelled == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert service.cancelled == 2  # the caller going away cancels its call


async def test_the_caller_going_away_cancels_a_raced_call(make: Callable[..., Parts]) -> None:
    parts = make(delay_s=30.0)
    await parts.known()
    service = parts.service
    service.hang = True
    search = asyncio.create_task(
        service.search(ACME, "email", "anna@example.se", Deadline.after(8))
    )
    await asyncio.sleep(0.01)  # the call is under way, the 30 s hedge delay is not over
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    await asyncio.wait_for(service.saw_cancel.wait(), 5)
    assert parts.hedge.detached == 0


async def test_hedging_off_never_races(make: Callable[..., Parts]) -> None:
    parts = make(delay_s=0.0)
    await parts.known()
    assert not parts.hedge.worth_it(ACME, "email", "anna@example.se")
    assert not parts.hedge.enabled and len(parts.hedge.known) == 0


def test_known_keys_are_normalised_and_bounded() -> None:
    known = KnownKeys(limit=3)
    known.add_card(ACME, ANNA)  # customer_id, email, mobile
    assert known.knows(ACME, "mobile", "070-123 45 67")
    assert known.knows(ACME, "customer_id", "ANNA@example.se")
    assert not known.knows(replace(ACME, id=2), "email", "anna@example.se")
    known.add_card(ACME, Customer("bo@example.se", {"email": "bo@example.se"}))
    assert len(known) == 3 and not known.knows(ACME, "customer_id", "anna@example.se")


async def test_a_database_that_cannot_stand_in_leaves_the_till_waiting(parts: Parts) -> None:
    await parts.known()
    service = parts.service
    service.hang = True
    parts.cards.fail_reads = True
    search = asyncio.create_task(
        service.search(ACME, "email", "anna@example.se", Deadline.after(8))
    )
    await asyncio.sleep(0.05)  # well past the 0.01 s hedge delay
    assert not search.done()
    service.release.set()
    assert await search == [ANNA]
    assert served_from_cache() is None and parts.count("hedged") == 0
