"""Loyalty offers end to end (issue 14), real processes on SQLite and PostgreSQL: the Bloomreach
emulator holds offer events as a marketer's scenario tracks them; the core answers the card
and Redeem / UndoRedeem over real gRPC; the relay delivers the ledger's events.

The SPI routes (/redeem, /undo-redeem) are the edge's (loyalty-edge); these tests call the core
as the edge does, with the service token and the POS's Basic credential in the metadata."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from harness.metrics import sample_value
from harness.order_stack import TOKEN, OrderStack, order_stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_SECRET
from sitoo_bloomreach.v1 import customers_pb2 as pb
from sitoo_bloomreach.v1 import customers_pb2_grpc
from tests.support.eventually import eventually

ANNA = "anna@example.se"
NOW = time.time()
REDEEMED = ("sitoo_bonus_check_redeemed", "sitoo_promotion_redeemed")


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    with order_stack(database_url, service_env, tmp_path / "logs") as o:
        yield o


class Till:
    """The edge's side of the gRPC contract, for one register."""

    def __init__(self, o: OrderStack, channel: grpc.aio.Channel, register: str) -> None:
        self._stub = customers_pb2_grpc.CustomerServiceStub(channel)
        basic = aiohttp.encode_basic_auth(*o.spi)
        self._metadata = (
            ("authorization", f"Bearer {o.s.env['SITOO_BR_SERVICE_TOKEN']}"),
            ("x-sitoo-authorization", basic),
            ("x-sitoo-store-id", "store-1"),
            ("x-sitoo-staff-id", "staff-7"),
            ("x-sitoo-register-id", register),
        )

    async def card(self, customer_id: str = ANNA) -> pb.Customer:
        request = pb.GetCustomerRequest(integration="acme", customer_id=customer_id)
        return await self._stub.GetCustomer(request, metadata=self._metadata, timeout=10)

    async def search(self, key: str = ANNA) -> pb.Customer:
        request = pb.SearchCustomersRequest(integration="acme", key_type="email", key=key)
        found = await self._stub.SearchCustomers(request, metadata=self._metadata, timeout=10)
        (customer,) = found.customers
        return customer

    async def redeem(
        self, *bonus_checks: str, undo: bool = False, promotion: str = ""
    ) -> pb.Customer:
        items = [pb.RedeemItem(bonus_check_id=b) for b in bonus_checks]
        if promotion:
            items.append(pb.RedeemItem(promotion_id=promotion))
        request = pb.RedeemRequest(integration="acme", customer_id=ANNA, items=items)
        call = self._stub.UndoRedeem if undo else self._stub.Redeem
        response: pb.RedeemResponse = await call(request, metadata=self._metadata, timeout=10)
        return response.customer


@pytest.fixture
async def channel(orders: OrderStack) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(orders.s.env["SITOO_BR_CORE_TARGET"]) as ch:
        yield ch


async def track(o: OrderStack, path: str, body: dict[str, Any]) -> None:
    """What a Bloomreach scenario does: track on the customer's profile."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{o.bloomreach_url}/track/v2/projects/{TOKEN}/{path}",
            json=body,
            headers={"Authorization": aiohttp.encode_basic_auth(DEFAULT_KEY_ID, DEFAULT_SECRET)},
        ) as response,
    ):
        assert response.ok, await response.text()


async def give_offers(o: OrderStack, *offers: tuple[str, dict[str, Any]]) -> None:
    ids = {"registered": ANNA}
    await track(o, "customers", {"customer_ids": ids, "properties": {"email": ANNA}})
    for n, (kind, props) in enumerate(offers):
        event = {"customer_ids": ids, "event_type": f"sitoo_{kind}", "timestamp": NOW - 100 + n}
        await track(o, "customers/events", {**event, "properties": props})


def bonus(offer_id: str, **props: Any) -> tuple[str, dict[str, Any]]:
    return ("bonus_check", {"id": offer_id, "name": f"Bonus {offer_id}", "amount": 50, **props})


async def exports(o: OrderStack) -> float:
    """Bloomreach events exports the core has made (its upstream histogram's count)."""
    url = f"http://{o.s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    name = "core_upstream_request_duration_seconds_count"
    return sample_value(text, name, upstream="bloomreach", operation="export_events") or 0.0


async def redemption_events(o: OrderStack) -> list[dict[str, Any]]:
    events = []
    for kind in ("bonus_check", "promotion"):
        for action in ("redeemed", "undone"):
            events += await o.bloomreach_events(f"sitoo_{kind}_{action}")
    return events


def redeemed_flags(card: pb.Customer) -> dict[str, bool]:
    flags = {p.promotion_id: p.redeemed for p in card.promotions}
    flags.update({b.bonus_check_id: b.redeemed for b in card.bonus_checks})
    return flags


async def test_card_shows_offers_hides_expired_and_redeem_undo_redeem(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(
        orders,
        ("promotion", {"id": "p-10", "name": "10% off", "type": "cart_percent", "value": 10}),
        bonus("b-50", currency="SEK", valid_until=int(NOW) + 86_400),
        bonus("b-old", valid_until=int(NOW) - 60),
    )
    till, other = Till(orders, channel, "reg-1"), Till(orders, channel, "reg-2")
    before = await exports(orders)

    card = await till.card()

    assert await exports(orders) == before + 1  # one extra call for the card, for all offers
    (promotion,) = card.promotions
    assert (promotion.promotion_id, promotion.name, promotion.redeemed) == (
        "p-10",
        "10% off",
        False,
    )
    assert (promotion.promotion_type.type, promotion.promotion_type.value_int) == (
        "cart_percent",
        10,
    )
    (check,) = card.bonus_checks  # b-old has expired
    assert (check.bonus_check_id, check.value, check.currency) == ("b-50", "50", "SEK")
    assert check.valid_until == int(NOW) + 86_400

    assert redeemed_flags(await till.redeem("b-50"))["b-50"] is True
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await other.redeem("b-50")
    assert again.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bonus_check_id 'b-50' is already redeemed" in (again.value.details() or "")
    for bad, why in (("b-old", "has expired"), ("b-none", "is not an offer")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await other.redeem(bad)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"bonus_check_id '{bad}' {why}" in (refused.value.details() or "")
    assert redeemed_flags(await other.card())["b-50"] is True
    assert redeemed_flags(await other.redeem("b-50", undo=True))["b-50"] is False
    with pytest.raises(grpc.aio.AioRpcError) as undo_again:
        await till.redeem("b-50", undo=True)
    assert "bonus_check_id 'b-50' is not redeemed" in (undo_again.value.details() or "")
    both = await till.redeem("b-50", promotion="p-10")
    assert redeemed_flags(both) == {"p-10": True, "b-50": True}

    await orders.settle()
    landed = await redemption_events(orders)
    assert Counter(e["type"] for e in landed) == {
        "sitoo_bonus_check_redeemed": 2,
        "sitoo_bonus_check_undone": 1,
        "sitoo_promotion_redeemed": 1,
    }
    first = next(e for e in landed if e["properties"].get("ledger_version") == 1)
    assert first["customer_ids"]["registered"] == ANNA
    assert first["properties"]["store_id"] == "store-1"
    assert first["properties"]["staff_id"] == "staff-7"
    assert {e["properties"]["register_id"] for e in landed} == {"reg-1", "reg-2"}


async def test_twenty_tills_at_once_one_redemption_one_event(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1"))
    tills = [Till(orders, channel, f"reg-{n}") for n in range(20)]

    results = await asyncio.gather(*(t.redeem("b-1") for t in tills), return_exceptions=True)

    won = [r for r in results if isinstance(r, pb.Customer)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1, results
    assert len(lost) == 19, results
    assert {e.code() for e in lost} == {grpc.StatusCode.INVALID_ARGUMENT}
    assert all("bonus_check_id 'b-1' is already redeemed" in (e.details() or "") for e in lost)
    await orders.settle()
    assert [e["type"] for e in await redemption_events(orders)] == ["sitoo_bonus_check_redeemed"]


async def test_a_pos_retry_answers_the_same_and_queues_nothing_twice(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1"))
    till = Till(orders, channel, "reg-1")

    first = await till.redeem("b-1")
    retried = await till.redeem("b-1")  # the POS lost the answer and asks again

    assert retried == first
    await orders.settle()
    assert len(await redemption_events(orders)) == 1


async def test_redeem_while_bloomreach_refuses_writes_then_delivered_after_recovery(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1"), bonus("b-2"))
    await orders.faults(orders.bloomreach_url, {"batch": {"error_rate": 1.0, "error_status": 503}})
    till = Till(orders, channel, "reg-1")

    card = await till.redeem("b-1")  # the till's answer comes from the ledger
    assert redeemed_flags(card) == {"b-1": True, "b-2": False}
    await eventually(
        lambda: orders.sql("SELECT attempts FROM outbox_messages"),
        lambda rows: bool(rows) and rows[0][0] >= 2,
        description="the relay retrying against the 503s",
    )
    assert await redemption_events(orders) == []
    # The operator sees the waiting redemption like an order message.
    listed = orders.s.cli("outbox", "list")
    assert listed.returncode == 0, listed.stderr
    # Open: pending between tries, in flight while the relay tries again.
    assert "\tcustomer\t" in listed.stdout, listed.stdout
    assert "\tpending\t" in listed.stdout or "\tin_flight\t" in listed.stdout, listed.stdout
    (message_id,) = [
        line.split("\t")[0] for line in listed.stdout.splitlines() if "\tcustomer\t" in line
    ]
    shown = orders.s.cli("outbox", "show", message_id)
    assert shown.returncode == 0, shown.stderr
    assert "sitoo_bonus_check_redeemed" in shown.stdout and "503" in shown.stdout, shown.stdout

    await orders.faults(orders.bloomreach_url, {})
    await orders.settle()
    landed = await redemption_events(orders)
    assert [(e["type"], e["properties"]["bonus_check_id"]) for e in landed] == [
        ("sitoo_bonus_check_redeemed", "b-1")
    ]
    assert (await orders.states()).get("dead", 0) == 0


async def test_kill_9_of_the_relay_during_delivery_exactly_once(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    """Bloomreach is slow and sometimes loses its answer after storing; relays die mid-send.
    Every ledger change lands once (a resend is byte-identical, stored once)."""
    checks = [f"b-{n}" for n in range(12)]
    await give_offers(orders, *(bonus(c) for c in checks))
    await orders.faults(
        orders.bloomreach_url,
        {"batch": {"latency_ms": 60, "error_after_commit_rate": 0.3, "error_status": 503}},
    )
    till = Till(orders, channel, "reg-1")
    rng = random.Random(14)
    kills = 0

    async def cashier() -> int:
        changes = 0
        for check in checks:
            await till.redeem(check)
            changes += 1
            if rng.random() < 0.4:
                await till.redeem(check, undo=True)
                await till.redeem(check)
                changes += 2
            await asyncio.sleep(rng.uniform(0.0, 0.15))
        return changes

    async def killer() -> None:
        nonlocal kills
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.2, 0.6))
            for relay in orders.relays:
                relay.kill()  # SIGKILL: no drain, the lease left behind
            kills += 1
            await asyncio.to_thread(orders.start_relay)

    changes, _ = await asyncio.gather(cashier(), killer())
    await orders.faults(orders.bloomreach_url, {})
    await orders.settle()

    landed = await redemption_events(orders)
    versions = Counter(
        (e["properties"]["bonus_check_id"], e["properties"]["ledger_version"]) for e in landed
    )
    assert kills == 4
    assert len(landed) == changes, (len(landed), changes)
    assert all(n == 1 for n in versions.values()), versions
    assert all(redeemed for redeemed in redeemed_flags(await till.card()).values()), (
        "every check ends redeemed"
    )
    assert (await orders.states()).get("dead", 0) == 0


async def test_settings_from_the_cli_decide_what_the_card_and_search_read(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    updated = orders.s.cli_json(
        "integration", "update", "acme",
        "--loyalty", "bonus-check-event-type=voucher_given",
        "--loyalty", "amount-property=sum",
        "--loyalty", "search-shows-offers=yes",
    )  # fmt: skip
    shown = orders.s.cli_json("integration", "show", "acme")
    for answer in (updated, shown):
        text = json.dumps(answer)
        assert '"voucher_given"' in text and '"sum"' in text, answer
    await give_offers(orders, bonus("b-old-type"))  # the default type no longer counts
    ids = {"registered": ANNA}
    event = {"customer_ids": ids, "event_type": "voucher_given", "timestamp": NOW}
    await track(orders, "customers/events", {**event, "properties": {"id": "v-1", "sum": 75}})
    till = Till(orders, channel, "reg-1")
    before = await exports(orders)

    found = await till.search()

    assert await exports(orders) == before + 1  # search shows offers: one export, as configured
    assert [(b.bonus_check_id, b.value) for b in found.bonus_checks] == [("v-1", "75")]
    assert [b.bonus_check_id for b in (await till.card()).bonus_checks] == ["v-1"]


async def test_offers_unreadable_the_card_still_answers_but_redeem_does_not(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1"))
    till = Till(orders, channel, "reg-1")
    await orders.faults(
        orders.bloomreach_url, {"export_events": {"error_rate": 1.0, "error_status": 503}}
    )

    card = await till.card()  # the sale can go on with the customer, without offers

    assert card.customer_id == ANNA and list(card.bonus_checks) == []
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await till.redeem("b-1")  # cannot check the item: the POS may retry
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    await orders.faults(orders.bloomreach_url, {})
    assert redeemed_flags(await till.redeem("b-1")) == {"b-1": True}


@pytest.fixture
def limited(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[OrderStack]:
    """The integration's key may read purchases and consents, but no offer events."""
    grants = json.dumps({"events_get": ["purchase", "purchase_item", "consent"]})
    args = ("--key-id", DEFAULT_KEY_ID, "--secret", DEFAULT_SECRET,
            "--permissions", f"{DEFAULT_KEY_ID}={grants}")  # fmt: skip
    with order_stack(
        sqlite_database_url, service_env, tmp_path / "logs", bloomreach_args=args
    ) as o:
        yield o


async def test_a_key_that_cannot_read_offers_fails_validation_and_cards_still_answer(
    limited: OrderStack,
) -> None:
    result = limited.s.cli("integration", "validate", "acme", "--json", "--skip-round-trip")
    report = json.loads(result.stdout)
    (check,) = [c for c in report["checks"] if c["name"] == "bloomreach_read_permissions"]
    assert not check["passed"]
    assert "Events > Get for 'sitoo_promotion' and 'sitoo_bonus_check'" in check["detail"]
    await give_offers(limited, bonus("b-1"))
    async with grpc.aio.insecure_channel(limited.s.env["SITOO_BR_CORE_TARGET"]) as channel:
        card = await Till(limited, channel, "reg-1").card()
    assert card.customer_id == ANNA and list(card.bonus_checks) == []


# ---- the offer-count gate -------------------------------------------------------------

BO = "bo@example.se"  # a customer without offers


async def requests(o: OrderStack) -> Counter[str]:
    """The API requests the emulator has received, by route (its /_sandbox/stats)."""
    return Counter((await o.bloomreach_stats())["requests"])


async def gate(o: OrderStack, promotions: str = "promotions", checks: str = "checks") -> None:
    """Count aggregates in Bloomreach, as a marketer defines them, and the gate set with the
    CLI (search shows offers too, so that search is gated as well)."""
    for aggregate, event_type in (
        ("promotions", "sitoo_promotion"),
        ("checks", "sitoo_bonus_check"),
    ):
        body = {"event_type": event_type, "function": "count"}
        await o.emulator(
            o.bloomreach_url, "PUT", f"/_sandbox/projects/{TOKEN}/aggregates/{aggregate}", body
        )
    o.s.cli_json(
        "integration", "update", "acme",
        "--loyalty", f"promotion-count-aggregate-id={promotions}",
        "--loyalty", f"bonus-check-count-aggregate-id={checks}",
        "--loyalty", "search-shows-offers=yes",
    )  # fmt: skip
    await track(o, "customers", {"customer_ids": {"registered": BO}, "properties": {"email": BO}})


async def test_with_the_gate_a_card_without_offers_costs_one_call_and_offers_still_show(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1", valid_until=int(NOW) + 86_400))
    await gate(orders)
    till = Till(orders, channel, "reg-1")
    shown = orders.s.cli("integration", "show", "acme").stdout
    assert "offer-count gate (aggregates): promotion <- promotions, bonus_check <- checks" in shown

    before = await requests(orders)
    card = await till.card(BO)
    after_get = await requests(orders)
    searched = await till.search(BO)
    after_search = await requests(orders)

    assert card.customer_id == BO and not card.bonus_checks and not card.promotions
    assert after_get - before == Counter({"attributes": 1})  # one Bloomreach call per card
    assert searched.customer_id == BO and not searched.bonus_checks
    assert after_search - after_get == Counter({"attributes": 1})

    offered = await till.card(ANNA)  # a customer with offers: the read, then the export

    assert [b.bonus_check_id for b in offered.bonus_checks] == ["b-1"]
    assert await requests(orders) - after_search == Counter({"attributes": 1, "export_events": 1})
    check = [
        c
        for c in json.loads(
            orders.s.cli("integration", "validate", "acme", "--json", "--skip-round-trip").stdout
        )["checks"]
        if c["name"] == "loyalty_offer_gate"
    ]
    assert [c["passed"] for c in check] == [True], check


async def test_an_unknown_count_aggregate_still_shows_the_offers(
    orders: OrderStack, channel: grpc.aio.Channel
) -> None:
    await give_offers(orders, bonus("b-1"))
    await gate(orders, checks="never-defined")
    till = Till(orders, channel, "reg-1")
    before = await requests(orders)

    card = await till.card()

    assert [b.bonus_check_id for b in card.bonus_checks] == ["b-1"]
    assert await requests(orders) - before == Counter({"attributes": 1, "export_events": 1})
    report = json.loads(
        orders.s.cli("integration", "validate", "acme", "--json", "--skip-round-trip").stdout
    )
    (check,) = [c for c in report["checks"] if c["name"] == "loyalty_offer_gate"]
    assert not check["passed"] and "'never-defined' cannot be read" in check["detail"]


@pytest.fixture
def no_analyses(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[OrderStack]:
    """The integration's key may read everything but analyses (segmentations, aggregates)."""
    args = ("--key-id", DEFAULT_KEY_ID, "--secret", DEFAULT_SECRET,
            "--permissions", f'{DEFAULT_KEY_ID}={{"analyses_get": false}}')  # fmt: skip
    with order_stack(
        sqlite_database_url, service_env, tmp_path / "logs", bloomreach_args=args
    ) as o:
        yield o


async def test_a_key_that_cannot_read_the_counts_still_shows_the_offers(
    no_analyses: OrderStack,
) -> None:
    await give_offers(no_analyses, bonus("b-1"))
    await gate(no_analyses)
    async with grpc.aio.insecure_channel(no_analyses.s.env["SITOO_BR_CORE_TARGET"]) as channel:
        till = Till(no_analyses, channel, "reg-1")
        before = await requests(no_analyses)
        card = await till.card()
        without = await till.card(BO)  # unreadable counts: the export, which finds none

    assert [b.bonus_check_id for b in card.bonus_checks] == ["b-1"] and not without.bonus_checks
    assert await requests(no_analyses) - before == Counter({"attributes": 2, "export_events": 2})
