"""Queued customer writes against in-memory ports (services/ports.py's CustomerCommandQueue and
CardCache): when a write is queued, what is queued and cached, and what the till is answered;
and the card snapshot a queued update is planned on. tests/e2e/test_queued_writes.py runs the
same path through real processes on both databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from core_service.domain.card_snapshot import snapshot_of_card
from core_service.domain.customer import (
    Customer,
    CustomerInput,
    CustomerStatus,
    Enrichment,
    Origin,
)
from core_service.domain.errors import (
    AlreadyExists,
    Overloaded,
    StorageUnavailable,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import Integration
from core_service.domain.mapping import CustomerMapping
from core_service.metrics import CoreMetrics
from core_service.services.queued_writes import QueuedWrites, with_write_ids
from tests.unit.test_customer_mapping import integration

NOW = 1_700_000_000.0
ORIGIN = Origin(store_id="200")
OUTAGE = UpstreamUnavailable("Bloomreach is unavailable")


class FakeQueue:
    def __init__(self) -> None:
        self.queued: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self.down = False
        self.scans = 0

    async def enqueue(
        self,
        *,
        integration_id: int,
        customer_id: str,
        commands: Sequence[Mapping[str, Any]],
        now: float,
    ) -> int:
        if self.down:
            raise StorageUnavailable("database down", "OperationalError")
        self.queued.setdefault((integration_id, customer_id), []).extend(map(dict, commands))
        return 1

    async def pending(self, integration_id: int, customer_id: str) -> bool:
        if self.down:
            raise StorageUnavailable("database down", "OperationalError")
        return (integration_id, customer_id) in self.queued

    async def any_pending(self, integration_id: int) -> bool:
        self.scans += 1
        if self.down:
            raise StorageUnavailable("database down", "OperationalError")
        return any(i == integration_id for i, _ in self.queued)


class FakeCards:
    def __init__(self) -> None:
        self.cards: dict[str, Customer] = {}
        self.down = False

    async def remember(self, integration: Integration, card: Customer, *, now: float) -> None:
        if self.down:
            raise StorageUnavailable("database down", "OperationalError")
        self.cards[card.customer_id] = card

    async def recall_by_id(
        self, integration: Integration, customer_id: str, *, now: float
    ) -> Customer | None:
        return self.cards.get(customer_id)

    async def recall_by_key(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> Customer | None:
        return next((c for c in self.cards.values() if c.fields.get(key_type) == key), None)


def service() -> tuple[QueuedWrites, FakeQueue, FakeCards]:
    queue, cards = FakeQueue(), FakeCards()
    return QueuedWrites(queue, cards, CoreMetrics.create(), lambda: NOW), queue, cards


ANNA = CustomerInput(
    fields={"email": " Anna@Example.SE ", "name_first": "Anna", "mobile": "070-111 22 33"},
    consents=["consent_news"],
)


@pytest.mark.parametrize(
    ("error", "queued"),
    [
        (UpstreamUnavailable("503"), True),
        (Overloaded("no time", 1.0), True),
        (UpstreamTimeout("slow"), True),
        (UpstreamRateLimited("429", 1.0), True),
        (UpstreamRejected("400"), False),
        (UpstreamMisconfigured("401"), False),
    ],
)
def test_only_outages_are_queued(error: Exception, queued: bool) -> None:
    assert QueuedWrites.outage(integration(), error) is queued
    assert QueuedWrites.outage(integration(queued_writes=False), error) is False


async def test_a_create_while_down_is_queued_cached_and_answered() -> None:
    writes, queue, cards = service()
    mapping = CustomerMapping(integration())
    plan = mapping.plan_create(ANNA, ORIGIN, NOW)
    card = await writes.create(integration(), mapping, plan, OUTAGE)
    assert card == mapping.customer(plan.after)
    assert card.customer_id == "anna@example.se"
    [(key, commands)] = queue.queued.items()
    assert key == (1, "anna@example.se")
    # The live path's commands, each with an id of this write.
    assert [{**c, "command_id": ""} for c in commands] == [
        {**c, "command_id": ""} for c in plan.commands
    ]
    assert all(c["command_id"].startswith("q") for c in commands)
    assert cards.cards["anna@example.se"] == card
    assert await writes.recall_pending(integration(), "anna@example.se") == card
    assert await writes.recall_pending_by_key(integration(), "name_first", "Anna") == card


async def test_a_create_the_cache_knows_is_refused_as_live() -> None:
    writes, queue, cards = service()
    mapping = CustomerMapping(integration())
    plan = mapping.plan_create(ANNA, ORIGIN, NOW)
    cards.cards["anna@example.se"] = mapping.customer(plan.after)
    with pytest.raises(AlreadyExists):
        await writes.create(integration(), mapping, plan, OUTAGE)
    assert queue.queued == {}


async def test_a_write_the_database_cannot_take_keeps_the_outage_error() -> None:
    writes, queue, _ = service()
    queue.down = True
    mapping = CustomerMapping(integration())
    with pytest.raises(UpstreamUnavailable) as info:
        await writes.create(integration(), mapping, mapping.plan_create(ANNA, ORIGIN, NOW), OUTAGE)
    assert info.value is OUTAGE
    # And the database down does not make reads fail: nothing pending is known.
    assert await writes.pending(integration(), "anna@example.se") is False


async def test_a_card_not_cached_still_answers_once_queued() -> None:
    writes, queue, cards = service()
    cards.down = True
    mapping = CustomerMapping(integration())
    plan = mapping.plan_create(ANNA, ORIGIN, NOW)
    assert await writes.create(integration(), mapping, plan, OUTAGE) == mapping.customer(plan.after)
    assert len(queue.queued) == 1


async def test_an_update_is_planned_on_the_cached_card_and_keeps_its_enrichment() -> None:
    writes, queue, cards = service()
    mapping = CustomerMapping(integration())
    enrichment = Enrichment(status=CustomerStatus("gold", "VIP"))
    created = mapping.customer(mapping.plan_create(ANNA, ORIGIN, NOW).after)
    cards.cards[created.customer_id] = dataclasses.replace(created, enrichment=enrichment)

    unchanged = await writes.update(
        integration(),
        mapping,
        "ANNA@example.se",
        CustomerInput(fields={"name_first": "Anna"}),
        ORIGIN,
    )
    assert unchanged is not None and queue.queued == {}  # nothing changed, nothing queued

    change = CustomerInput(fields={"name_first": "Annie"}, consents=[])
    card = await writes.update(integration(), mapping, "anna@example.se", change, ORIGIN)
    assert card is not None
    assert card.fields["name_first"] == "Annie" and card.consents == ()
    assert card.enrichment == enrichment
    [commands] = queue.queued.values()
    names = [(c["name"], c["data"].get("properties", {}).get("action")) for c in commands]
    assert names == [("customers", None), ("customers/events", "reject")]
    assert cards.cards["anna@example.se"] == card

    assert await writes.update(integration(), mapping, "eva@example.se", change, ORIGIN) is None


def test_write_ids_are_deterministic_and_distinct_per_write() -> None:
    commands = [{"name": "customers", "command_id": "customer", "data": {"t": 1}}]
    once = with_write_ids("a@b.se", commands)
    assert once == with_write_ids("a@b.se", commands)
    assert once != with_write_ids("a@b.se", [{**commands[0], "data": {"t": 2}}])
    assert once != with_write_ids("c@d.se", commands)
    assert once[0]["command_id"].endswith("-customer")


@pytest.mark.parametrize(
    "change",
    [
        CustomerInput(fields={"name_first": "Annie", "invoice_address.city": "Lund"}),
        CustomerInput(fields={"mobile": "070-999 88 77"}),
        CustomerInput(consents=[], accepts_communication=["sms"]),
        CustomerInput(fields={"name_first": "Anna"}, consents=["consent_news"]),
        CustomerInput(additional_options=[("team", ("a", "b"))]),
    ],
)
def test_an_update_planned_on_the_card_sends_what_the_live_update_sends(
    change: CustomerInput,
) -> None:
    mapping = CustomerMapping(integration())
    live = mapping.plan_create(
        CustomerInput(
            fields={**ANNA.fields, "invoice_address.city": "Göteborg"},
            consents=["consent_news"],
            accepts_communication=[],
            additional_options=[("team", ("a",))],
        ),
        ORIGIN,
        NOW,
    ).after
    card = mapping.customer(live)
    rebuilt = snapshot_of_card(mapping, card)
    assert mapping.customer(rebuilt) == card
    assert (
        mapping.plan_update(rebuilt, change, ORIGIN, NOW).commands
        == mapping.plan_update(live, change, ORIGIN, NOW).commands
    )


async def test_reads_ask_the_database_only_when_customer_messages_are_open() -> None:
    now = [NOW]
    queue, cards = FakeQueue(), FakeCards()
    writes = QueuedWrites(queue, cards, CoreMetrics.create(), lambda: now[0])
    for _ in range(3):  # none open: asked once, then believed for a second
        assert not await writes.pending(integration(), "eva@example.se")
    assert queue.scans == 1
    # Another core queues a write: seen once this core's answer expires.
    queue.queued[(1, "eva@example.se")] = []
    assert not await writes.pending(integration(), "eva@example.se")
    now[0] += 1.0
    assert await writes.pending(integration(), "eva@example.se")
    assert queue.scans == 2
    # Delivered: the next scan finds none open.
    queue.queued.clear()
    now[0] += 1.0
    assert not await writes.pending(integration(), "anna@example.se")
    assert queue.scans == 3
    # This core's own queued write is seen at once.
    mapping = CustomerMapping(integration())
    await writes.create(integration(), mapping, mapping.plan_create(ANNA, ORIGIN, NOW), OUTAGE)
    assert await writes.pending(integration(), "anna@example.se")
    assert queue.scans == 3
