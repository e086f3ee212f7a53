"""The whole product in one day: the POS creates customers through the CRM SPI, sells and
refunds, Sitoo delivers the webhooks, the relay tracks every order; and the same while the
database restarts under it. Real processes, emulators, both databases."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.databases import postgres_database
from harness.metrics import sample_value
from harness.order_stack import TOKEN, OrderStack, order_stack
from harness.processes import free_port, running
from sandbox.driver.scenario import ExpectedOutcome, StoreDayConfig, run_store_day
from tests.e2e.test_orders import assert_landed_exactly, money, play_day, seed_customers


async def play_full_day(o: OrderStack, config: StoreDayConfig, **sender: Any) -> ExpectedOutcome:
    pos, sitoo = o.pos(), o.sitoo()
    try:
        async with pos, o.sender(**sender) as events:
            return await run_store_day(config, pos, sitoo, events)
    finally:
        await sitoo.close()


async def bloomreach_customer(o: OrderStack, hard_id: str) -> dict[str, Any]:
    body = await o.emulator(
        o.bloomreach_url, "GET", f"/_sandbox/projects/{TOKEN}/customers?registered={hard_id}"
    )
    customers: list[dict[str, Any]] = body["customers"]
    assert len(customers) == 1, customers
    return customers[0]


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def assert_money_exact(o: OrderStack, expected: ExpectedOutcome) -> None:
    """Every purchase and line carries Sitoo's amounts to the cent; discounts and vouchers as
    Bloomreach defines them (``discount_value`` = amount saved per unit)."""
    purchases = {
        str(e["properties"]["purchase_id"]): e["properties"]
        for e in await o.bloomreach_events("purchase")
    }
    lines: dict[str, list[dict[str, Any]]] = {}
    for event in await o.bloomreach_events("purchase_item"):
        lines.setdefault(str(event["properties"]["purchase_id"]), []).append(event["properties"])
    discounted = vouchers = 0
    for p in expected.purchases:
        props = purchases[str(p.order_id)]
        assert props["total_price"] == money(p.total_gross)
        assert props["total_price_without_tax"] == money(p.total_net)
        assert props["total_tax"] == money(p.total_vat)
        landed = sorted(lines[str(p.order_id)], key=lambda line: int(line["line_id"]))
        assert len(landed) == len(p.items)
        for line, item in zip(landed, p.items, strict=True):
            quantity = abs(item.quantity)
            assert (line["sku"], line["quantity"]) == (item.sku, quantity)
            assert line["total_price"] == money(item.total_gross)
            assert line["total_price_without_tax"] == money(item.total_net)
            discount = Decimal(item.discount)
            if discount:
                discounted += 1
                assert line["discount_value"] == float(_cents(discount / quantity))
                assert _cents(line["original_price"]) == _cents(
                    (abs(Decimal(item.total_gross)) + discount) / quantity
                )
            else:
                assert "discount_value" not in line
            if item.voucher_code:
                vouchers += 1
                assert line["voucher_code"] == item.voucher_code
        assert sum(_cents(line["total_price"]) for line in landed) == _cents(props["total_price"])
        total_discount = sum((Decimal(i.discount) for i in p.items), Decimal(0))
        assert props.get("discount_value", 0.0) == float(total_discount)
    assert discounted and vouchers, "the day must have discounted lines and vouchers"


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    with order_stack(database_url, service_env, tmp_path / "logs") as o:
        yield o


async def test_a_store_day_through_the_spi_and_the_webhook(orders: OrderStack) -> None:
    config = StoreDayConfig(customers=4, sales=12, refunds=3, anonymous=2, seed=21, run_tag="full")
    expected = await play_full_day(orders, config, duplicate_probability=0.2, seed=4)
    await orders.settle()
    await assert_landed_exactly(orders, expected)
    await assert_money_exact(orders, expected)
    # The customers the POS created are the ones the purchases landed on, with their data.
    for customer in expected.customers:
        profile = await bloomreach_customer(orders, customer.hard_id)
        assert profile["properties"]["first_name"] == customer.name_first
        assert {e["type"] for e in profile["events"]} >= {"consent"}
    purchases_by_customer = expected.by_customer()
    for hard_id, purchases in purchases_by_customer.items():
        profile = await bloomreach_customer(orders, hard_id)
        landed = {
            str(e["properties"]["purchase_id"])
            for e in profile["events"]
            if e["type"] == "purchase"
        }
        assert landed == {str(p.order_id) for p in purchases}
    assert (await orders.states()).get("dead", 0) == 0


@pytest.fixture
def direct_pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.mark.postgres
async def test_database_restart_while_events_arrive(
    direct_pg_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    """The core and the relay lose PostgreSQL: Sitoo gets 503s and retries, then everything
    recovers and every order lands exactly once."""
    port = free_port()
    proxied_url = direct_pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    assert proxied_url != direct_pg_url
    proxy_args = ["-m", "tests.support.tcp_proxy", str(port), "5432"]
    logs = tmp_path / "logs"
    with (
        running("pg-proxy", proxy_args, {}, logs, "proxy listening") as proxy,
        order_stack(proxied_url, service_env, logs) as o,
    ):
        # Customers exist beforehand: the outage is the order path's to survive.
        config = StoreDayConfig(
            customers=3,
            sales=24,
            refunds=3,
            anonymous=2,
            seed=8,
            run_tag="restart",
            create_customers_via_spi=False,
        )
        await seed_customers(o, config)
        # Down as the day starts: open connections dropped, new ones refused; back after 3 s,
        # while Sitoo is still retrying (its compressed schedule spans ~30 s).
        proxy.process.send_signal(signal.SIGUSR1)

        async def restart_database() -> None:
            await asyncio.sleep(3.0)
            proxy.process.send_signal(signal.SIGUSR2)

        expected, _ = await asyncio.gather(play_day(o, config), restart_database())
        await o.settle()
        await assert_landed_exactly(o, expected)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{o.s.edge_url}/metrics") as response,
        ):
            metrics = await response.text()
        route = "/sitoo/{integration}/events"
        refused = sample_value(metrics, "edge_http_requests_total", route=route, status="503")
        assert refused, "the outage should have been answered with 503s"
        assert (await o.states()).get("dead", 0) == 0
