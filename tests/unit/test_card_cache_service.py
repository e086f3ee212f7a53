"""The card cache's rules and its read-through service, with an in-memory store and a scripted
Bloomreach (the real ones run in tests/db/test_card_cache.py and tests/e2e/test_card_cache.py):
which failures fall back, the per-integration switch, a database failure behind an outage, the
answer's mark, and the group-committed, deduplicated writes of fresh cards."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from core_service.adapters.http_client import HttpClients
from core_service.adapters.upstream import HttpUpstream
from core_service.card_cache_metrics import CardCacheMetrics
from core_service.domain.card_cache import (
    card_from_json,
    card_to_json,
    falls_back,
    index_keys,
    normalised_key,
    validate_cache_settings,
)
from core_service.domain.customer import Customer, CustomerStatus, Enrichment, Section
from core_service.domain.errors import (
    InvalidArgument,
    NotFound,
    Overloaded,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.loyalty import Item, Offer, Redemption
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.card_cache import CardCachedCustomers, CardWriter, served_from_cache
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from core_service.services.loyalty import LoyaltyService
from tests.support.fake_ledger import FakeLedger
from tests.support.memory_cards import MemoryCards

NOW = 1_800_000_000.0
ANNA = Customer(
    "anna@example.se",
    {"email": "anna@example.se", "mobile": "+46701234567", "member_number": "M1"},
    consents=("newsletter",),
    additional_options=(("size", ("M",)),),
    enrichment=Enrichment(CustomerStatus("gold", "Gold"), ("V1",), (Section("S", (("a", "b"),)),)),
)


def _integration(iid: int = 1, **changes: object) -> Integration:
    base = Integration(
        id=iid,
        name=f"tenant{iid}",
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
    return replace(base, **changes)  # type: ignore[arg-type]


class ScriptedBloomreach(CustomerService):
    """Bloomreach's side of the customer service: answers ``answer`` or raises ``error``."""

    answer: Customer | None = ANNA
    error: Exception | None = None

    async def search(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        if self.error is not None:
            raise self.error
        return [] if self.answer is None else [self.answer]

    async def get(self, integration: Integration, customer_id: str, deadline: Deadline) -> Customer:
        if self.error is not None:
            raise self.error
        if self.answer is None:
            raise NotFound("no such customer")
        return self.answer

    async def lookup(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        return await self.search(integration, key_type, key, deadline)


class Service(CardCachedCustomers, ScriptedBloomreach):
    pass


def _service(
    cards: MemoryCards, loyalty: LoyaltyService | None = None
) -> tuple[Service, CardWriter, CardCacheMetrics]:
    core = CoreMetrics.create()
    metrics = CardCacheMetrics.create(core.registry)
    writer = CardWriter(cards, metrics, clock=lambda: NOW)
    service = Service(
        BloomreachClients(HttpUpstream(HttpClients())),
        core,
        bloomreach_timeout_s=1.0,
        history_limit=10,
        gates=CallGates(4, 4, core),
        clock=lambda: NOW + 60,
        cards=cards,
        writer=writer,
        cache_metrics=metrics,
        loyalty=loyalty,
    )
    return service, writer, metrics


def _count(metrics: CardCacheMetrics, outcome: str, operation: str = "search") -> float:
    return float(metrics.answers.labels("tenant1", operation, outcome)._value.get())


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamUnavailable("5xx, connection refused or dropped, breaker open"), True),
        (Overloaded("too little deadline left to ask Bloomreach"), True),
        (UpstreamTimeout("timeout"), True),
        (UpstreamRateLimited("429", 2.0), True),
        (UpstreamMisconfigured("401/403"), False),
        (UpstreamRejected("400"), False),
        (NotFound("no such customer"), False),
        (InvalidArgument("bad key"), False),
    ],
)
def test_which_failures_fall_back(error: Exception, expected: bool) -> None:
    assert falls_back(error) is expected


def test_the_stored_form_keeps_the_whole_card_and_the_keys_normalise() -> None:
    assert card_from_json(card_to_json(ANNA)) == ANNA
    acme = _integration()
    assert index_keys(acme, ANNA) == (
        ("customer_id", "anna@example.se"),
        ("email", "anna@example.se"),
        ("mobile", "+46701234567"),
        ("member_number", "M1"),
    )
    assert normalised_key(acme, "mobile", "070-123 45 67") == "+46701234567"
    assert normalised_key(acme, "email", "not an address") is None
    assert normalised_key(acme, "personal_id", "19800101-1234") is None
    with pytest.raises(InvalidArgument):
        validate_cache_settings(0, None)
    with pytest.raises(InvalidArgument):
        validate_cache_settings(None, 5)


async def test_a_fresh_answer_is_remembered_and_answers_the_outage() -> None:
    cards = MemoryCards()
    service, writer, metrics = _service(cards)
    acme = _integration()
    deadline = Deadline.after(5)
    assert await service.search(acme, "email", "anna@example.se", deadline) == [ANNA]
    assert served_from_cache() is None
    await writer.drain()
    service.error = UpstreamUnavailable("Bloomreach is unavailable")
    assert await service.search(acme, "mobile", "0701234567", deadline) == [ANNA]
    hit = served_from_cache()
    assert hit is not None and hit.age_s == 60
    assert await service.get(acme, "ANNA@example.se", deadline) == ANNA
    assert await service.lookup(acme, "", "anna@example.se", deadline) == [
        replace(ANNA, customer_id="")
    ]
    assert _count(metrics, "hit") == 1 and _count(metrics, "hit", "lookup") == 1
    # Another integration has no card of its own: Bloomreach's error, as without a cache.
    with pytest.raises(UpstreamUnavailable):
        await service.search(_integration(2), "email", "anna@example.se", deadline)
    assert served_from_cache() is None


async def test_what_does_not_fall_back_raises_bloomreachs_error() -> None:
    cards = MemoryCards()
    service, writer, metrics = _service(cards)
    acme = _integration()
    await service.search(acme, "email", "anna@example.se", Deadline.after(5))
    await writer.drain()
    for error in (UpstreamMisconfigured("401"), UpstreamRejected("400")):
        service.error = error
        with pytest.raises(type(error)):
            await service.search(acme, "email", "anna@example.se", Deadline.after(5))
    # The switch off: the cached card stays unused (and no fresh card is stored).
    off = replace(acme, cached_reads=False)
    service.error = UpstreamTimeout("slow")
    with pytest.raises(UpstreamTimeout):
        await service.search(off, "email", "anna@example.se", Deadline.after(5))
    assert _count(metrics, "off") == 1
    # The database down as well: Bloomreach's error, not the database's.
    cards.fail_reads = True
    with pytest.raises(UpstreamTimeout):
        await service.search(acme, "email", "anna@example.se", Deadline.after(5))
    assert _count(metrics, "unavailable") == 1
    cards.fail_reads = False
    with pytest.raises(UpstreamTimeout):
        await service.search(acme, "email", "nobody@example.se", Deadline.after(5))
    assert _count(metrics, "miss") == 1


async def test_writes_are_grouped_deduplicated_and_never_fail_the_call() -> None:
    cards = MemoryCards()
    service, writer, metrics = _service(cards)
    acme = _integration()
    cards.gate = asyncio.Event()
    for n in range(50):
        service.answer = replace(
            ANNA, customer_id=f"c{n}@example.se", fields={"email": f"c{n}@example.se"}
        )
        await service.search(acme, "email", f"c{n}@example.se", Deadline.after(5))
    # The same card again, unchanged: not written again.
    await service.search(acme, "email", "c49@example.se", Deadline.after(5))
    cards.gate.set()
    await writer.drain()
    assert sum(cards.flushes) == 50
    assert len(cards.flushes) < 50  # group commits while the first one was written
    assert metrics.writes.labels("unchanged")._value.get() == 1
    # A failing database costs the till nothing: the search answers, the failure is counted.
    cards.fail_writes = True
    service.answer = replace(ANNA, customer_id="new@example.se", fields={"email": "new@example.se"})
    assert await service.search(acme, "email", "new@example.se", Deadline.after(5))
    await writer.drain()
    assert metrics.writes.labels("failed")._value.get() == 1
    await writer.close()


def test_the_stored_form_knows_every_field_of_the_card() -> None:
    # A field added to Customer must be added to domain.card_cache's stored form (or be
    # decided against there, e.g. something a stale copy must not show): this fails first.
    from dataclasses import fields

    assert {f.name for f in fields(Customer)} == {
        "offers",
        "customer_id",
        "fields",
        "accepts_communication",
        "consents",
        "additional_options",
        "enrichment",
    }
    assert {f.name for f in fields(Enrichment)} == {"status", "voucher_passwords", "sections"}


async def test_offers_kept_with_the_card_are_answered_as_they_stand_now() -> None:
    """A cached card keeps its offers, but never their ``redeemed`` flag nor an expired one:
    the ledger (ours, readable while Bloomreach is down) decides what is redeemed now."""
    promotion = Offer("promotion", "p-1", name="10 %", offer_type="cart_percent", value="10")
    expiring = Offer("bonus_check", "b-1", name="50 kr", amount="50", valid_until=NOW + 30)
    card = replace(ANNA, offers=(promotion, expiring))
    # ``redeemed`` is not kept.
    kept = card_from_json(card_to_json(replace(card, offers=(replace(promotion, redeemed=True),))))
    assert kept.offers == (promotion,)
    assert card_from_json(card_to_json(card)) == card
    ledger = FakeLedger()
    cards = MemoryCards()
    service, writer, _ = _service(cards, LoyaltyService(ledger, clock=lambda: NOW + 60))
    service.answer = card
    acme = _integration()
    deadline = Deadline.after(5)
    await service.search(acme, "email", "anna@example.se", deadline)
    await writer.drain()
    # Redeemed at another till after the card was cached.
    await ledger.apply(
        Redemption(
            integration_id=acme.id,
            action="redeem",
            customer_id=card.customer_id,
            items=(Item("promotion", "p-1"),),
            fingerprint="",
            now=NOW + 40,
            retry_window_s=0,
        ),
        lambda changes: [],
    )
    service.error = UpstreamUnavailable("Bloomreach is unavailable")
    [cached] = await service.search(acme, "email", "anna@example.se", deadline)
    assert cached.offers == (replace(promotion, redeemed=True),)
    # Without the ledger (loyalty off), a stale copy shows no offers at all.
    plain, _, _ = _service(cards)
    plain.error = UpstreamUnavailable("Bloomreach is unavailable")
    [stripped] = await plain.search(acme, "email", "anna@example.se", deadline)
    assert stripped.offers == ()
