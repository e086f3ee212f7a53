"""Loyalty's offer-count gate (issue 14): the rule (domain/loyalty_config.py), the card's read
plan (domain/mapping.py) and what a card costs against the in-memory Bloomreach
(tests/support/fake_upstream.py). tests/e2e/test_offer_gate.py runs it against the emulator."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from core_service.domain.customer import Origin
from core_service.domain.errors import InvalidArgument
from core_service.domain.loyalty import Item
from core_service.domain.loyalty_config import LoyaltyConfig, configure, needs_export
from core_service.domain.mapping import CustomerMapping
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from core_service.services.loyalty import LoyaltyService
from core_service.services.validation.bloomreach_checks import BloomreachChecks
from tests.support.fake_ledger import FakeLedger
from tests.support.fake_upstream import FakeBloomreach, FakeUpstream
from tests.unit.test_customer_service import integration

NOW = 1_700_000_000.0
ANNA = "anna@example.se"
GATED = LoyaltyConfig(
    promotion_count_aggregate_id="promotions", bonus_check_count_aggregate_id="bonus-checks"
)

# ---- the rule ---------------------------------------------------------------------------


def test_the_gate_is_on_only_when_every_kind_that_is_on_has_its_aggregate() -> None:
    assert GATED.gate_aggregates == ("promotions", "bonus-checks")
    assert LoyaltyConfig().gate_aggregates == ()
    assert LoyaltyConfig(promotion_count_aggregate_id="promotions").gate_aggregates == ()
    # A kind that is off needs no aggregate; one aggregate may count both kinds.
    off = LoyaltyConfig(bonus_check_event_type="", promotion_count_aggregate_id="promotions")
    assert off.gate_aggregates == ("promotions",)
    shared = LoyaltyConfig(
        promotion_count_aggregate_id="offers", bonus_check_count_aggregate_id="offers"
    )
    assert shared.gate_aggregates == ("offers",)
    # Loyalty off: no offers to gate.
    none = replace(GATED, promotion_event_type="", bonus_check_event_type="")
    assert none.gate_aggregates == ()


@pytest.mark.parametrize(
    ("counts", "export"),
    [
        ((0,), False),
        ((0, 0.0), False),
        ((0, 1), True),
        ((3,), True),
        ((None,), True),  # unreadable: no permission, unknown aggregate
        (("0",), True),  # not a number
        ((False,), True),
        ((math.nan,), True),
        ((), True),  # no counts is no gate
    ],
)
def test_only_counts_that_all_read_zero_skip_the_export(
    counts: tuple[Any, ...], export: bool
) -> None:
    assert needs_export(counts) is export


def test_the_aggregate_ids_are_checked_stored_and_cleared() -> None:
    config = configure(LoyaltyConfig(), {"promotion_count_aggregate_id": "65a1f0c2e4b0"})
    assert config.to_json() == {"promotion_count_aggregate_id": "65a1f0c2e4b0"}
    assert LoyaltyConfig.from_json(config.to_json()) == config
    assert configure(config, {"promotion_count_aggregate_id": ""}) == LoyaltyConfig()
    with pytest.raises(InvalidArgument) as caught:
        configure(config, {"bonus_check_count_aggregate_id": "a b"})
    assert caught.value.field == "loyalty_bonus_check_count_aggregate_id"


def test_the_cards_one_read_carries_the_gates_aggregates() -> None:
    plain = CustomerMapping(integration(loyalty=LoyaltyConfig()))
    gated = CustomerMapping(integration(loyalty=GATED))
    extra = [a for a in gated.attributes if a not in plain.attributes]
    assert extra == [
        {"type": "aggregate", "id": "promotions"},
        {"type": "aggregate", "id": "bonus-checks"},
    ]
    assert gated.offer_gate == ("promotions", "bonus-checks")


# ---- what a card costs ------------------------------------------------------------------


class Fixture:
    def __init__(self) -> None:
        self.bloomreach = FakeBloomreach()
        self.bloomreach.aggregates = {
            "promotions": "sitoo_promotion",
            "bonus-checks": "sitoo_bonus_check",
        }
        self.bloomreach.add({"registered": ANNA}, email=ANNA)
        metrics = CoreMetrics.create()
        self.service = CustomerService(
            BloomreachClients(FakeUpstream(self.bloomreach)),
            metrics,
            bloomreach_timeout_s=5.0,
            history_limit=20,
            gates=CallGates(4, 4, metrics),
            clock=lambda: NOW,
            loyalty=LoyaltyService(FakeLedger(), clock=lambda: NOW),
        )
        self.integration = integration(loyalty=replace(GATED, search_shows_offers=True))

    def give_bonus_check(self, offer_id: str) -> None:
        self.bloomreach.events.append(
            {
                "type": "sitoo_bonus_check",
                "timestamp": NOW - 10,
                "properties": {"id": offer_id, "name": "Bonus", "amount": 50},
            }
        )

    async def card_offers(self) -> list[str]:
        card = await self.service.get(self.integration, ANNA, Deadline.after(8.0))
        return [o.offer_id for o in card.offers]


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


async def test_a_customer_without_offers_costs_one_call(fx: Fixture) -> None:
    assert await fx.card_offers() == []
    assert fx.bloomreach.calls == ["attributes"]
    found = await fx.service.search(fx.integration, "email", ANNA, Deadline.after(8.0))
    assert [c.offers for c in found] == [()]
    assert fx.bloomreach.calls == ["attributes", "attributes"]


async def test_a_customer_with_offers_gets_them_after_the_read(fx: Fixture) -> None:
    fx.give_bonus_check("b-1")
    assert await fx.card_offers() == ["b-1"]
    assert fx.bloomreach.calls == ["attributes", "export_events"]


@pytest.mark.parametrize("why", ["unknown aggregate", "no permission"])
async def test_an_unreadable_count_still_shows_the_offers(fx: Fixture, why: str) -> None:
    fx.give_bonus_check("b-1")
    if why == "unknown aggregate":
        del fx.bloomreach.aggregates["bonus-checks"]
    else:
        fx.bloomreach.unreadable.add("bonus-checks")
    assert await fx.card_offers() == ["b-1"]
    assert fx.bloomreach.calls == ["attributes", "export_events"]


async def test_without_a_full_gate_the_export_runs_beside_the_read(fx: Fixture) -> None:
    fx.integration = integration(loyalty=replace(GATED, bonus_check_count_aggregate_id=""))
    assert await fx.card_offers() == []
    assert sorted(fx.bloomreach.calls) == ["attributes", "export_events"]


async def test_a_lagging_count_hides_a_new_offer_from_the_card_but_not_from_redeem(
    fx: Fixture,
) -> None:
    # The aggregate has not counted the new offer yet (real Bloomreach computes it later).
    fx.bloomreach.aggregates["bonus-checks"] = "not_counted_yet"
    fx.give_bonus_check("b-new")
    assert await fx.card_offers() == []
    # Redeem checks its items against the events, whatever the counts say.
    card = await fx.service.redeem(
        fx.integration,
        ANNA,
        items=[Item("bonus_check", "b-new")],
        action="redeem",
        origin=Origin("1", "anna", "r1"),
        deadline=Deadline.after(8.0),
    )
    assert [(o.offer_id, o.redeemed) for o in card.offers] == [("b-new", True)]
    assert fx.bloomreach.calls.count("export_events") == 1


# ---- validate's line --------------------------------------------------------------------


async def test_validate_says_whether_the_counts_can_be_read(fx: Fixture) -> None:
    checks = BloomreachChecks(fx.service)
    fx.bloomreach.unknown_is_404 = False  # the probe's made-up customer reads as nulls
    readable = await checks.offer_gate(fx.integration, fx.bloomreach)
    assert readable.passed and "one Bloomreach call" in readable.detail
    del fx.bloomreach.aggregates["promotions"]
    unknown = await checks.offer_gate(fx.integration, fx.bloomreach)
    assert not unknown.passed and "'promotions' cannot be read" in unknown.detail
    assert "Aggregate analysis" in unknown.remedy
    half = integration(loyalty=replace(GATED, bonus_check_count_aggregate_id=""))
    off = await checks.offer_gate(half, fx.bloomreach)
    assert not off.passed and "loyalty_bonus_check_count_aggregate_id is not set" in off.detail


async def test_validate_passes_a_gate_left_over_on_loyalty_that_is_off(fx: Fixture) -> None:
    off = integration(loyalty=replace(GATED, promotion_event_type="", bonus_check_event_type=""))
    check = await BloomreachChecks(fx.service).offer_gate(off, fx.bloomreach)
    assert check.passed and "loyalty offers are off" in check.detail
    half = integration(loyalty=replace(GATED, bonus_check_count_aggregate_id=""))
    fails = await BloomreachChecks(fx.service).offer_gate(half, fx.bloomreach)
    assert "--loyalty bonus-check-count-aggregate-id=ID" in fails.remedy
