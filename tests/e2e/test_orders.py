"""The order path end to end: Sitoo-side driver -> edge -> core inbox/outbox -> relay ->
Sitoo REST emulator -> Bloomreach emulator, all real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.order_stack import TOKEN, OrderStack, order_stack
from sandbox.bloomreach.testing import BR
from sandbox.driver.scenario import (
    ExpectedOutcome,
    StoreDayConfig,
    plan_store_day,
    run_store_day,
)


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    with order_stack(database_url, service_env, tmp_path / "logs") as o:
        yield o


async def seed_customers(o: OrderStack, config: StoreDayConfig) -> list[str]:
    """The customer path is another branch: the day's customers are created in Bloomreach
    directly, with the hard ID the customer path would give them (the lower-cased e-mail)."""
    plan = plan_store_day(config)
    async with aiohttp.ClientSession() as session:
        br = BR(session, o.bloomreach_url, TOKEN)
        for customer in plan.customers:
            reply = await br.update(
                {"registered": customer.hard_id}, {"first_name": customer.body["name_first"]}
            )
            assert reply.status == 200, reply.body
    return [c.hard_id for c in plan.customers]


async def play_day(o: OrderStack, config: StoreDayConfig, **sender: Any) -> ExpectedOutcome:
    sitoo = o.sitoo()
    try:
        async with o.sender(**sender) as events:
            return await run_store_day(config, None, sitoo, events)
    finally:
        await sitoo.close()


def money(value: str) -> float:
    return float(abs(Decimal(value)))


async def assert_landed_exactly(o: OrderStack, expected: ExpectedOutcome) -> None:
    """Every expected purchase and refund once, on its customer, and nothing else."""
    purchases = await o.bloomreach_events("purchase")
    by_id = Counter(str(e["properties"]["purchase_id"]) for e in purchases)
    wanted = {str(p.order_id): p for p in expected.purchases}
    assert set(by_id) == set(wanted), (sorted(by_id), sorted(wanted))
    assert all(n == 1 for n in by_id.values()), by_id
    for event in purchases:
        p = wanted[str(event["properties"]["purchase_id"])]
        props = event["properties"]
        assert event["customer_ids"].get("registered") == p.hard_id
        assert props["purchase_status"] == ("success" if p.kind == "sale" else "refund")
        assert props["total_price"] == money(p.total_gross)
        assert props["total_price_without_tax"] == money(p.total_net)
        assert props["purchase_source_type"] == "store"
        assert int(event["timestamp"]) == p.order_date
        if p.kind == "refund":
            assert props["original_purchase_id"] == str(p.original_order_id)
    items = await o.bloomreach_events("purchase_item")
    expected_items = Counter(
        (str(p.order_id), i.sku, abs(i.quantity)) for p in expected.purchases for i in p.items
    )
    landed = Counter(
        (str(e["properties"]["purchase_id"]), e["properties"]["sku"], e["properties"]["quantity"])
        for e in items
    )
    assert landed == expected_items
    skipped = await o.sql(
        "SELECT order_key, skip_reason FROM outbox_messages WHERE state = 'skipped'"
    )
    skipped_orders = {key.rsplit(":", 1)[1]: reason for key, reason in skipped}
    for skip in expected.skipped:
        assert skipped_orders.get(str(skip.order_id)) == "no identifiable customer"


async def test_store_day_lands_exactly(orders: OrderStack) -> None:
    config = StoreDayConfig(
        customers=4,
        sales=12,
        refunds=3,
        anonymous=3,
        seed=7,
        run_tag="day1",
        create_customers_via_spi=False,
    )
    hard_ids = await seed_customers(orders, config)
    expected = await play_day(orders, config, duplicate_probability=0.3, seed=1)
    await orders.settle()
    await assert_landed_exactly(orders, expected)
    # On the exact customers: the seeded profiles hold them, no customer was made up.
    stats = await orders.bloomreach_stats()
    assert stats["customers"] == len(hard_ids)
    assert any(p.offline for p in expected.purchases)
    states = await orders.states()
    assert states.get("dead", 0) == 0
    tracked = await orders.sql("SELECT count(*) FROM tracked_orders")
    assert tracked[0][0] == len(expected.purchases)
    # The prepared commands name the customers, so they are sealed at rest ...
    stored = json.dumps(
        [str(row) for row in await orders.sql("SELECT payload FROM outbox_messages")]
    )
    assert not any(hard_id in stored for hard_id in hard_ids)
    assert "sealed_commands" in stored
    # ... and opened for an operator who asks.
    message_id = (await orders.sql("SELECT message_id FROM tracked_orders LIMIT 1"))[0][0]
    shown = orders.s.cli_json("outbox", "show", str(message_id))
    assert any(hard_id in json.dumps(shown) for hard_id in hard_ids)
