"""Classification and deterministic command building, on orders the Sitoo emulator builds."""

from __future__ import annotations

import random
from typing import Any

import pytest

from core_service.adapters.bloomreach import encode
from core_service.domain.customer import normalise_field
from core_service.domain.orders import (
    CustomerRule,
    OrderRef,
    Purchase,
    Skip,
    classify,
    plan,
    resolve_hard_id,
)
from core_service.services.relay import backoff
from edge.events_body import EventsBodyError, parse_events
from sandbox.sitoo_api.models import new_order
from sandbox.sitoo_api.orders import OrderLine, manual_refund_order, refund_order, sale_order

RULE = CustomerRule("registered", "email")
REF = OrderRef(1500, 1, 5)


def stored(body: dict[str, Any], orderid: int = 5) -> dict[str, Any]:
    return new_order(body, orderid=orderid, eshopid=1, now=1_700_000_000, currency_code="SEK")


def sale(**kw: Any) -> dict[str, Any]:
    lines = [OrderLine("83428-0", 2, "80.00", name="Sofa"), OrderLine("X-1", 1, "10.00", vat=12)]
    options: dict[str, Any] = {
        "orderdate": 1_699_000_000,
        "store_external_id": "S200",
        "store_name": "Göteborg",
        "staff_external_id": "staff-7",
        "registerid": "{R}",
        "receipt_id": "R1",
    }
    options.update(kw)
    return stored(sale_order(lines, **options))


def test_sale_commands_are_complete_and_deterministic() -> None:
    order = sale(customer_id=" Anna@Example.COM ")
    first = plan(order, REF, RULE)
    assert isinstance(first, Purchase) and first.kind == "sale"
    assert first.hard_id == "anna@example.com"
    purchase, *items = first.commands
    props = purchase["data"]["properties"]
    assert purchase["command_id"] == "1500:1:5:purchase"
    assert purchase["data"]["timestamp"] == 1_699_000_000
    assert purchase["data"]["customer_ids"] == {"registered": "anna@example.com"}
    assert props["purchase_status"] == "success"
    assert props["total_price"] == 211.2 and props["total_price_without_tax"] == 170.0
    assert props["purchase_source_type"] == "store" and props["store_id"] == "S200"
    assert props["register_id"] == "{R}" and props["staff_id"] == "staff-7"
    assert props["local_currency"] == "SEK" and props["total_quantity"] == 3
    assert [i["data"]["event_type"] for i in items] == ["purchase_item", "purchase_item"]
    assert items[0]["data"]["properties"]["quantity"] == 2
    # Same order, same bytes: a resend after a crash is an exact duplicate.
    again = plan(sale(customer_id=" Anna@Example.COM "), REF, RULE)
    assert isinstance(again, Purchase)
    assert encode({"c": list(first.commands)}) == encode({"c": list(again.commands)})


def test_email_is_the_fallback_hard_id() -> None:
    result = plan(sale(email="  Bo@Example.com"), REF, RULE)
    assert isinstance(result, Purchase) and result.hard_id == "bo@example.com"


def test_refunds_are_positive_and_point_at_the_original() -> None:
    original = sale(customer_id="anna@example.com")
    refund = stored(refund_order(original, [(0, 1)], orderdate=1_699_000_500), orderid=6)
    result = plan(refund, OrderRef(1500, 1, 6), RULE)
    assert isinstance(result, Purchase) and result.kind == "refund"
    props = result.commands[0]["data"]["properties"]
    assert props["purchase_status"] == "refund"
    assert props["original_purchase_id"] == "5"
    assert props["total_price"] == 100.0
    item = result.commands[1]["data"]["properties"]
    assert item["quantity"] == 1 and item["original_line_id"] == "0"


def test_manual_return_without_original_is_a_refund() -> None:
    body = manual_refund_order([OrderLine("X-1", 1, "10.00")], email="a@b.se")
    assert classify(stored(body)) == "refund"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"orderstateid": 20}, "cancelled"),
        ({"orderstateid": 0}, "still open"),
        ({"ordertypeid": 100}, "not a sale (ordertypeid 100)"),
        ({"paymentstateid": 40}, "payment cancelled or failed"),
        ({"orderitems": []}, "no order lines"),
    ],
)
def test_orders_not_tracked_say_why(change: dict[str, Any], reason: str) -> None:
    order = {**sale(customer_id="a@b.se"), **change}
    assert plan(order, REF, RULE) == Skip(reason)


def test_anonymous_sale_is_skipped() -> None:
    assert plan(sale(), REF, RULE) == Skip("no identifiable customer")


def test_backoff_follows_the_schedule_with_jitter_and_retry_after() -> None:
    rng = random.Random(1)
    schedule = (0.0, 5.0, 300.0)
    assert backoff(schedule, 0, rng, None) == 0.0
    assert 4.0 <= (backoff(schedule, 1, rng, None) or 0) <= 6.0
    assert (backoff(schedule, 1, rng, 30.0) or 0) == 30.0
    assert backoff(schedule, 3, rng, None) is None


def test_edge_validates_field_by_field() -> None:
    good = (
        b'[{"event_id":"5e9fd002119a4c5fb4de5ccb9d0b90ea","event_type":"order",'
        b'"event_date":1611138542,"account_id":1500,"data":{"eshop_id":1,"order_id":12345,'
        b'"order_event_type":"update","order_state_changed":"closed"}}]'
    )
    (event,) = parse_events(good)
    assert event.order.order_id == 12345 and event.order.order_state_changed == "closed"
    for bad, where in [
        (b"{}", "array"),
        (b"[]", "1 to 10"),
        (b"[" + b",".join([good[1:-1]] * 11) + b"]", "1 to 10"),
        (good.replace(b'"order_id":12345', b'"order_id":"12345"'), "order_id"),
        (good.replace(b"1611138542", b"true"), "event_date"),
        (good.replace(b'"closed"', b'"done"'), "order_state_changed"),
        (good.replace(b"5e9fd002119a4c5fb4de5ccb9d0b90ea", b"no spaces!"), "event_id"),
    ]:
        with pytest.raises(EventsBodyError, match=where):
            parse_events(bad)


@pytest.mark.parametrize(
    "written",
    [
        "Anna.Svensson@Example.SE",
        "  anna@example.se\t",
        "\nÅSA.ÖBERG@EXEMPEL.SE ",
        "ANNA+POS@EXAMPLE.CO.UK",
    ],
)
def test_an_order_finds_the_customer_the_crm_spi_created(written: str) -> None:
    """The hard ID the customer path stores (validated) and the one an order names (as Sitoo
    recorded it, in any case or padding) are the same string: one rule, one home."""
    created = normalise_field("email", written, "SE")
    for linked in (
        {"additionaldata": {"crm-customerid": written}},
        {"email": written, "additionaldata": {}},
    ):
        assert resolve_hard_id(linked, RULE) == created


def test_a_line_names_the_offer_it_used_and_its_refund_does_too() -> None:
    lines = [
        OrderLine("A-1", 1, "80.00", additionaldata={"crm-bonuscheckid": "b-50"}),
        OrderLine("A-2", 1, "20.00", additionaldata={"crm-promotionid": "p-10"}),
        OrderLine("A-3", 1, "10.00"),
    ]
    original = stored(sale_order(lines, customer_id="anna@example.com", orderdate=1_699_000_000))
    result = plan(original, REF, RULE)
    assert isinstance(result, Purchase)
    items = [c["data"]["properties"] for c in result.commands[1:]]
    assert [(i.get("bonus_check_id"), i.get("promotion_id")) for i in items] == [
        ("b-50", None),
        (None, "p-10"),
        (None, None),
    ]
    # A returned line that names the offer keeps it as a record on the refund's item; the
    # ledger is not touched by orders at all (only UndoRedeem re-issues an offer).
    back = [OrderLine("A-1", -1, "80.00", additionaldata={"crm-bonuscheckid": "b-50"})]
    refund = stored(manual_refund_order(back, email="anna@example.com"), orderid=6)
    returned = plan(refund, OrderRef(1500, 1, 6), RULE)
    assert isinstance(returned, Purchase) and returned.kind == "refund"
    assert returned.commands[1]["data"]["properties"]["bonus_check_id"] == "b-50"
