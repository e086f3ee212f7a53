"""Members redeem their offers through the whole product (issue 14): a Bloomreach scenario
gives them promotions and bonus checks (Tracking API into the emulator), the POS reads the
cards and redeems through the edge (once, twice, retried, concurrently from two registers,
undone, undone and redeemed again, an expired and an unknown one), sells what it redeemed, and
at the end every call had the status it had to, the cards show what stays redeemed, and
Bloomreach holds the untouched offer events, one redemption event per change and the offers
on the sold lines. Real processes, emulators, both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.order_stack import OrderStack, order_stack
from sandbox.bloomreach.offers import OfferTracker
from sandbox.driver.loyalty_plan import REDEMPTION_EVENT_TYPES
from sandbox.driver.loyalty_run import REGISTERS, STORE
from sandbox.driver.scenario import ExpectedOutcome, StoreDayConfig, run_store_day
from tests.e2e.test_orders import assert_landed_exactly


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    with order_stack(database_url, service_env, tmp_path / "logs") as o:
        yield o


async def play(o: OrderStack, config: StoreDayConfig) -> ExpectedOutcome:
    pos, sitoo = o.pos(), o.sitoo()
    try:
        async with pos, o.sender() as events, OfferTracker(o.bloomreach_url) as offers:
            return await run_store_day(config, pos, sitoo, events, offers=offers)
    finally:
        await sitoo.close()


async def test_members_redeem_offers_through_the_store_day(orders: OrderStack) -> None:
    config = StoreDayConfig(
        customers=4, sales=10, refunds=2, anonymous=1, seed=14, run_tag="loyal", loyalty_members=3
    )
    expected = await play(orders, config)
    loyalty = expected.loyalty
    assert loyalty is not None
    # Every call had its status and answer, every card shows what the plan left.
    assert loyalty.mismatches() == []
    await orders.settle()
    await assert_landed_exactly(orders, expected)
    assert (await orders.states()).get("dead", 0) == 0

    # The offer events are as the scenario tracked them, once each: never changed.
    for offer in loyalty.offers:
        tracked = [
            e
            for e in await orders.bloomreach_events(offer.event_type)
            if e["properties"].get("id") == offer.offer_id
        ]
        assert [e["properties"] for e in tracked] == [dict(offer.properties)]

    # One redemption event per change, in ledger order; retries and refusals none.
    redemptions: list[dict[str, Any]] = []
    for event_type in sorted(set(REDEMPTION_EVENT_TYPES.values())):
        redemptions += await orders.bloomreach_events(event_type)
    for offer in loyalty.offers:
        key = f"{offer.kind}_id"
        mine = sorted(
            (e for e in redemptions if e["properties"].get(key) == offer.offer_id),
            key=lambda e: int(e["properties"]["ledger_version"]),
        )
        got = [
            {
                "event_type": e["type"],
                key: e["properties"][key],
                "action": e["properties"]["action"],
                "ledger_version": int(e["properties"]["ledger_version"]),
            }
            for e in mine
        ]
        assert got == offer.redemption_events, offer.script
        for event in mine:
            assert event["customer_ids"] == {"registered": offer.hard_id}
            assert event["properties"]["register_id"] in REGISTERS
            assert event["properties"]["store_id"] == STORE
    changes = sum(len(o.redemption_events) for o in loyalty.offers)
    assert len(redemptions) == changes

    # The sold line of each offer that stays redeemed names it on its purchase_item.
    items = await orders.bloomreach_events("purchase_item")
    for offer in loyalty.offers:
        key = f"{offer.kind}_id"
        carrying = [
            e
            for e in items
            if e["properties"].get(key) == offer.offer_id
            and str(e["properties"]["purchase_id"]) == str(offer.order_id)
        ]
        assert len(carrying) == (1 if offer.redeemed else 0), offer.script
