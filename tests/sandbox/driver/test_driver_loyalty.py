"""The store day with members redeeming offers (issue 14), against a small fake edge that
serves the redeem contract from the real Bloomreach emulator's offer events, the real Sitoo
emulator and the driver's real clients. The real core plays it in
``tests/e2e/test_store_day_loyalty.py``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from edge.spi_contract import ADD_CUSTOMER, EVENTS, integration_path
from sandbox.bloomreach.config import DEFAULT_PROJECT_TOKEN
from sandbox.bloomreach.offers import OfferTracker
from sandbox.bloomreach.testing import BR
from sandbox.driver.loyalty_plan import SCRIPTS, plan_loyalty
from sandbox.driver.loyalty_run import REGISTERS
from sandbox.driver.pos_client import PosClient, encode_header_value
from sandbox.driver.receiver import Received, Receiver
from sandbox.driver.scenario import (
    ExpectedOutcome,
    SitooOrdersClient,
    StoreDayConfig,
    plan_store_day,
    run_store_day,
)
from sandbox.driver.webhooks import EventSender
from tests.sandbox.driver.test_driver_scenario import ACCOUNT, API_ID, API_PASSWORD, all_orders

ReceiverFactory = Callable[..., Awaitable[Receiver]]
OFFER_TYPES = {"sitoo_promotion": "promotion", "sitoo_bonus_check": "bonus_check"}
CONFIG = StoreDayConfig(
    customers=4, sales=10, refunds=1, anonymous=1, seed=5, run_tag="loyal", loyalty_members=3
)


async def start_app(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def sitoo_url() -> AsyncIterator[str]:
    from sandbox import sitoo_api

    runner, url = await start_app(sitoo_api.create_app(sitoo_api.SitooApiConfig()))
    yield url
    await runner.cleanup()


class FakeEdge:
    """The redeem contract as the driver reads it: offers are the customer's unexpired offer
    events in Bloomreach; redeeming one twice, or undoing what is not redeemed, is a 400,
    unless the call repeats the last one from the same register (a POS retry: 200, no
    change); a call is all or nothing. ``lenient`` answers 200 to everything."""

    def __init__(self, bloomreach_url: str, *, lenient: bool = False) -> None:
        self.bloomreach_url = bloomreach_url
        self.lenient = lenient
        self.redeemed: set[str] = set()
        self.last: tuple[object, ...] = ()

    async def offers(self, customer_id: str) -> dict[str, dict[str, Any]]:
        url = f"{self.bloomreach_url}/_sandbox/projects/{DEFAULT_PROJECT_TOKEN}/events"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            events = (await response.json())["events"]
        return {
            e["properties"]["id"]: {"kind": OFFER_TYPES[e["type"]], **e["properties"]}
            for e in events
            if e["type"] in OFFER_TYPES
            and e["customer_ids"].get("registered") == customer_id
            and e["properties"]["valid_until"] > time.time()
        }

    def card(self, customer_id: str, offers: dict[str, dict[str, Any]]) -> dict[str, Any]:
        def listed(kind: str) -> list[dict[str, Any]]:
            return [
                {f"{kind}_id": i, "name": o["name"], "redeemed": i in self.redeemed}
                for i, o in offers.items()
                if o["kind"] == kind
            ]

        return {
            "customer_id": customer_id,
            "promotions": listed("promotion"),
            "bonus_checks": listed("bonus_check"),
        }

    async def handle(self, request: web.Request, record: Received) -> web.Response | None:
        if request.method == "POST" and request.path == integration_path("acme", ADD_CUSTOMER):
            return web.json_response({**record.body, "customer_id": record.body["email"].lower()})
        if request.path == integration_path("acme", EVENTS):
            return web.Response(status=200)
        parts = request.path.split("/")  # /sitoo/acme/customers/{id}[/redeem|/undo-redeem]
        customer_id = parts[4]
        offers = await self.offers(customer_id)
        if request.method == "GET":
            return web.json_response(self.card(customer_id, offers))
        wanted = [
            item.get("promotion_id") or item.get("bonus_check_id") for item in record.body["items"]
        ]
        # No await from here on: the check and the change are one step, as in a transaction.
        redeem = parts[5] == "redeem"
        call = (redeem, tuple(wanted), request.headers.get("Register-ID"))
        if call == self.last:
            return web.json_response(self.card(customer_id, offers))
        for index, offer_id in enumerate(wanted):
            refused = offer_id not in offers or (offer_id in self.redeemed) == redeem
            if refused and not self.lenient:
                message = f"items[{index}]: refused"
                body = {
                    "request_id": "r",
                    "error_code": "bad-request",
                    "error_data": {"message": message},
                }
                return web.json_response(body, status=400)
        for offer_id in wanted:
            (self.redeemed.add if redeem else self.redeemed.discard)(offer_id)
        self.last = call
        return web.json_response(self.card(customer_id, offers))


async def play(receiver: Receiver, bloomreach: str, sitoo_url: str) -> ExpectedOutcome:
    pos = PosClient(receiver.url, "acme", "spi-user", "spi-secret")
    sitoo = SitooOrdersClient(sitoo_url, ACCOUNT, API_ID, API_PASSWORD)
    sender = EventSender.for_integration(
        receiver.url, "acme", username="hook", password="hook-secret", compression=1e9
    )
    try:
        async with OfferTracker(bloomreach) as offers:
            return await run_store_day(CONFIG, pos, sitoo, sender, offers=offers)
    finally:
        await pos.close()
        await sitoo.close()
        await sender.close()


async def test_members_redeem_their_offers_through_the_day(
    start_receiver: ReceiverFactory, bloomreach: str, sitoo_url: str
) -> None:
    edge = FakeEdge(bloomreach)
    receiver = await start_receiver(handler=edge.handle)
    outcome = await play(receiver, bloomreach, sitoo_url)
    loyalty = outcome.loyalty
    assert loyalty is not None
    assert loyalty.mismatches() == []
    assert len(loyalty.offers) == 7
    assert {o.script for o in loyalty.offers} == {*SCRIPTS, "expired"}
    assert {o.kind for o in loyalty.offers} == {"promotion", "bonus_check"}

    # The calls: each script's statuses; the concurrent pair from two registers, one winner.
    by_offer: dict[str, list[tuple[str, int]]] = {}
    for call in loyalty.calls:
        by_offer.setdefault(call.offer_id, []).append((call.op, call.status))
    expected_calls = {
        "once": [("redeem", 200)],
        "twice": [("redeem", 200), ("redeem", 400)],
        "retried": [("redeem", 200), ("redeem", 200)],
        "concurrent": [("redeem", 200), ("redeem", 400)],
        "undone": [("redeem", 200), ("undo", 200), ("undo", 400)],
        "undone_again": [("redeem", 200), ("undo", 200), ("redeem", 200)],
        "expired": [("redeem", 400)],
    }
    for offer in loyalty.offers:
        assert by_offer[offer.offer_id] == expected_calls[offer.script], offer.script
    concurrent = next(o for o in loyalty.offers if o.script == "concurrent")
    registers = {c.register for c in loyalty.calls if c.offer_id == concurrent.offer_id}
    assert registers == set(REGISTERS)
    assert all(
        r.headers["Register-ID"] in {encode_header_value(x) for x in REGISTERS}
        for r in receiver.records
        if r.path.endswith("redeem")
    )
    planned_ids = {o.offer_id for o in loyalty.offers}
    unknown = [(c.op, c.status) for c in loyalty.calls if c.offer_id not in planned_ids]
    assert unknown == [("redeem", 400)]
    redeem_posts = [r for r in receiver.records if r.path.endswith(("/redeem", "/undo-redeem"))]
    assert len(redeem_posts) == len(loyalty.calls) == 1 + 2 + 2 + 2 + 3 + 3 + 1 + 1
    # What the middleware must track back: one event per change, retries and refusals none.
    events = {o.script: [e["event_type"] for e in o.redemption_events] for o in loyalty.offers}
    kinds = {o.script: o.kind for o in loyalty.offers}
    assert events["retried"] == [f"sitoo_{kinds['retried']}_redeemed"]
    assert events["undone_again"] == [
        f"sitoo_{kinds['undone_again']}_{change}" for change in ("redeemed", "undone", "redeemed")
    ]
    assert events["expired"] == []
    assert len(events["twice"]) == len(events["concurrent"]) == len(events["once"]) == 1
    assert [e["ledger_version"] for o in loyalty.offers for e in o.redemption_events][:1] == [1]

    # Bloomreach holds each offer event exactly as the scenario tracked it.
    br = BR(aiohttp.ClientSession(), bloomreach)
    try:
        for offer in loyalty.offers:
            reply = await br.data(
                "customers/events",
                {"customer_ids": {"registered": offer.hard_id}, "event_types": [offer.event_type]},
            )
            tracked = [
                e["properties"]
                for e in reply.body["data"]
                if e["properties"]["id"] == offer.offer_id
            ]
            assert tracked == [dict(offer.properties)]
            assert isinstance(offer.properties["valid_until"], int)
    finally:
        await br.session.close()

    # Sales carry the offers redeemed at the end on one line each; undone offers on none.
    orders = {o["orderid"]: o for o in await all_orders(sitoo_url)}
    used: dict[str, tuple[int, int]] = {}
    for orderid, order in orders.items():
        for index, item in enumerate(order["orderitems"]):
            for key in ("crm-promotionid", "crm-bonuscheckid"):
                if key in item["additionaldata"] and order.get("creditorderid") is None:
                    used[item["additionaldata"][key]] = (orderid, index)
    for offer in loyalty.offers:
        if offer.redeemed:
            assert used[offer.offer_id] == (offer.order_id, offer.line)
            order = orders[offer.order_id or 0]
            assert order["additionaldata"]["crm-customerid"] == offer.customer_id
        else:
            assert offer.offer_id not in used and offer.order_id is None
    assert outcome.to_json()["loyalty"]["mismatches"] == []


async def test_an_edge_that_lets_an_offer_be_used_twice_is_caught(
    start_receiver: ReceiverFactory, bloomreach: str, sitoo_url: str
) -> None:
    receiver = await start_receiver(handler=FakeEdge(bloomreach, lenient=True).handle)
    outcome = await play(receiver, bloomreach, sitoo_url)
    assert outcome.loyalty is not None
    found = outcome.loyalty.mismatches()
    assert any("redeem" in m and ": 200, expected 400" in m for m in found), found
    assert any("undo" in m and ": 200, expected 400" in m for m in found), found


def test_the_loyalty_plan_is_deterministic_and_sells_what_stays_redeemed() -> None:
    plan = plan_store_day(CONFIG)
    a, b = plan_loyalty(plan, 3), plan_loyalty(plan, 3)
    assert a == b
    assert len(a.members) == 3
    sales_of = {o.customer for o in plan.orders if o.kind == "sale"}
    assert set(a.members) <= sales_of
    for offer in a.offers:
        where = a.sold_on(offer)
        assert (where is not None) is offer.redeemed_at_end
        if where is not None:
            assert plan.orders[where[0]].customer == offer.customer
    other_run = plan_store_day(StoreDayConfig(**{**CONFIG.__dict__, "run_tag": "other"}))
    ids = {o.offer.offer_id for o in a.offers}
    assert ids.isdisjoint(o.offer.offer_id for o in plan_loyalty(other_run, 3).offers)
    assert plan_loyalty(plan, 0).offers == ()
    with pytest.raises(ValueError):
        StoreDayConfig(loyalty_members=-1)
