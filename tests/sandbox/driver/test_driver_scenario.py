"""A store day against a fake edge that accepts everything and the real Sitoo emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from edge.spi_contract import ADD_CUSTOMER, EVENTS, MAX_EVENTS_PER_BATCH, integration_path
from sandbox.driver.pos_client import PosClient
from sandbox.driver.receiver import Received, Receiver
from sandbox.driver.scenario import (
    SitooOrdersClient,
    StoreDayConfig,
    plan_store_day,
    run_store_day,
)
from sandbox.driver.webhooks import EventSender, Outcome
from sandbox.sitoo_api import schema

sitoo_api = pytest.importorskip(
    "sandbox.sitoo_api", reason="the Sitoo REST API emulator (sandbox/sitoo_api) is not importable"
)

ReceiverFactory = Callable[..., Awaitable[Receiver]]
ACCOUNT = 1500
API_ID, API_PASSWORD = "1500-1", "sandbox-password"


def accepting_edge(events_script: list[int]) -> Callable[..., Awaitable[web.Response | None]]:
    """Create answers the customer with ``customer_id`` = lower-cased e-mail; events get 200
    (or the next scripted status)."""

    async def handle(request: web.Request, record: Received) -> web.Response | None:
        if request.method == "POST" and request.path == integration_path("acme", ADD_CUSTOMER):
            body = dict(record.body)
            body["customer_id"] = body["email"].lower()
            return web.json_response(body)
        if request.path == integration_path("acme", EVENTS):
            status = events_script.pop(0) if events_script else 200
            return web.Response(status=status)
        return web.json_response({"error": "unexpected"}, status=500)

    return handle


@pytest.fixture
async def sitoo_url() -> AsyncIterator[str]:
    app = sitoo_api.create_app(sitoo_api.SitooApiConfig(not_found_reads=1))
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def all_orders(url: str) -> list[dict[str, Any]]:
    auth = aiohttp.encode_basic_auth(API_ID, API_PASSWORD)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{url}/v2/accounts/{ACCOUNT}/orders.json",
            params={"num": "1000", "sort": "orderid"},
            headers={"Authorization": auth},
        ) as response,
    ):
        assert response.status == 200
        payload = await response.json()
    items: list[dict[str, Any]] = payload["items"]
    return items


async def play(edge: Receiver, sitoo_url: str, config: StoreDayConfig) -> tuple[Any, EventSender]:
    pos = PosClient(edge.url, "acme", "spi-user", "spi-secret")
    sitoo = SitooOrdersClient(sitoo_url, ACCOUNT, API_ID, API_PASSWORD)
    sender = EventSender.for_integration(
        edge.url, "acme", username="hook", password="hook-secret", compression=1e9
    )
    try:
        outcome = await run_store_day(config, pos, sitoo, sender)
    finally:
        await pos.close()
        await sitoo.close()
        await sender.close()
    return outcome, sender


async def test_store_day_end_to_end(start_receiver: ReceiverFactory, sitoo_url: str) -> None:
    edge = await start_receiver(handler=accepting_edge([503, 429]))
    config = StoreDayConfig(customers=4, sales=9, refunds=3, anonymous=3, seed=42, run_tag="t1")
    outcome, sender = await play(edge, sitoo_url, config)

    # (d) the expected outcome
    assert len(outcome.customers) == 4
    assert len(outcome.sales) == 9 and len(outcome.refunds) == 3 and len(outcome.skipped) == 3
    assert all(c.hard_id == c.email.lower() for c in outcome.customers)
    assert any(c.email != c.hard_id for c in outcome.customers), "mixed-case e-mail expected"
    assert {p.hard_id for p in outcome.purchases} <= {c.hard_id for c in outcome.customers}
    assert sum(len(v) for v in outcome.by_customer().values()) == 12
    lines = [i for p in outcome.purchases for i in p.items]
    assert any(i.discount != "0.00" for i in lines), "a discounted line"
    assert any(i.voucher_code for i in lines), "a voucher"

    # (a) customers were created on the edge through the CRM SPI with the SPI credential
    creates = [r for r in edge.records if r.path == integration_path("acme", ADD_CUSTOMER)]
    assert len(creates) == 4
    spi_auth = aiohttp.encode_basic_auth("spi-user", "spi-secret")
    assert all(r.headers["Authorization"] == spi_auth for r in creates)
    assert [r.body["email"] for r in creates] == [c.email for c in outcome.customers]

    # (b) orders in the Sitoo emulator match the expectation
    orders = {o["orderid"]: o for o in await all_orders(sitoo_url)}
    assert len(orders) == 15
    for purchase in outcome.purchases:
        order = orders[purchase.order_id]
        assert order["additionaldata"]["crm-customerid"] == purchase.customer_id
        assert order["orderdate"] == purchase.order_date
        assert order["moneytotal_gross_all"] == purchase.total_gross
        assert order["moneyfinal_net"] == purchase.total_net
        assert [(i["sku"], i["quantity"]) for i in order["orderitems"]] == [
            (i.sku, i.quantity) for i in purchase.items
        ]
        assert schema.errors(order) == []
        # Line money: the driver's own arithmetic equals what the Sitoo emulator computed.
        for line, item in zip(order["orderitems"], purchase.items, strict=True):
            gross = Decimal(line["moneyitemtotal_net"]) + Decimal(line["moneyitemtotal_vat"])
            assert (line["moneyitemtotal_net"], str(gross)) == (item.total_net, item.total_gross)
            assert line["moneynetpriceperunit"] == item.net_price_per_unit
            assert line["vouchercode"] == item.voucher_code
        if purchase.kind == "refund":
            original = orders[purchase.original_order_id or 0]
            assert order["creditorderid"] == purchase.original_order_id
            assert order["additionaldata"]["pos-originalsales-orderid"] == str(original["orderid"])
            assert all(i["quantity"] < 0 for i in order["orderitems"])
            assert Decimal(order["moneytotal_gross_all"]) < 0
            original_items = {i["orderitemid"]: i for i in original["orderitems"]}
            for item in order["orderitems"]:
                source = original_items[
                    int(item["additionaldata"]["pos-originalsales-orderitemid"])
                ]
                assert source["sku"] == item["sku"]
                assert -item["quantity"] <= source["quantity"]
            assert purchase.order_date > original["orderdate"]
        else:
            assert "creditorderid" not in order
            assert all(i["quantity"] > 0 for i in order["orderitems"])
    for skip in outcome.skipped:
        order = orders[skip.order_id]
        assert skip.reason == "anonymous"
        assert "crm-customerid" not in order["additionaldata"]
        assert order["email"] == ""

    # offline sales: uploaded after an order with a later orderdate
    offline = [p for p in outcome.purchases if p.offline]
    assert offline
    for purchase in offline:
        earlier_uploads = [o for oid, o in orders.items() if oid < purchase.order_id]
        assert any(o["orderdate"] > purchase.order_date for o in earlier_uploads)

    # (c) events: chronological, <= 10 per batch, add + update/closed for every order
    batches = [r.body for r in edge.records if r.path == integration_path("acme", EVENTS)]
    assert all(1 <= len(b) <= MAX_EVENTS_PER_BATCH for b in batches)
    assert batches[0] == batches[1] == batches[2], "first batch retried after 503 and 429"
    delivered = [e for b in batches[2:] for e in b]
    dates = [e["event_date"] for e in delivered]
    assert dates == sorted(dates)
    assert [e["event_id"] for e in delivered] == list(outcome.event_ids)
    assert all(e["account_id"] == ACCOUNT for e in delivered)
    per_order: dict[int, list[str]] = {}
    for event in delivered:
        per_order.setdefault(event["data"]["order_id"], []).append(
            event["data"]["order_event_type"]
        )
    assert per_order == {oid: ["add", "update"] for oid in orders}
    assert outcome.delivery["retries"] == 2
    assert [a.outcome for a in sender.log[:3]] == [
        Outcome.RETRIED,
        Outcome.RETRIED,
        Outcome.DELIVERED,
    ]
    assert outcome.to_json()["by_customer"]


def test_plan_is_deterministic_per_seed() -> None:
    config = StoreDayConfig(customers=5, sales=12, refunds=4, anonymous=2, seed=7, run_tag="x")
    a, b = plan_store_day(config), plan_store_day(config)
    assert a == b
    other = plan_store_day(
        StoreDayConfig(customers=5, sales=12, refunds=4, anonymous=2, seed=8, run_tag="x")
    )
    assert other != a
    kinds = [o.kind for o in a.orders]
    assert kinds.count("sale") == 12 and kinds.count("refund") == 4
    assert kinds.count("anonymous") == 2
    arrivals = [o.arrival for o in a.orders]
    assert arrivals == sorted(arrivals)
    for order in a.orders:
        if order.kind == "refund":
            assert order.refund_of is not None and order.refund_of < order.position
            assert order.order_date > a.orders[order.refund_of].order_date
    assert sum(o.offline for o in a.orders) == config.offline_count == 2


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        StoreDayConfig(sales=2, refunds=3)
    with pytest.raises(ValueError):
        StoreDayConfig(customers=0, sales=1)
    assert plan_store_day(StoreDayConfig(run_tag="a")).run_tag == "a"
    assert (
        plan_store_day(StoreDayConfig(seed=1)).run_tag
        != plan_store_day(StoreDayConfig(seed=1)).run_tag
    )
