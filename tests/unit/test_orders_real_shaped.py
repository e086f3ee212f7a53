"""The relay's mapping on orders shaped as Sitoo serves them (issue 12).

Orders here are Sitoo's published ``getOrder`` example and orders the Sitoo emulator builds and
serves (``wire``: Sitoo's defaults, no nulls). Totals must equal Sitoo's to the cent and
``discount_value`` must mean what Bloomreach says: the amount saved per unit, original price
minus price.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from core_service.domain.orders import CustomerRule, OrderRef, Purchase, plan
from sandbox.sitoo_api import schema
from sandbox.sitoo_api.models import new_order, wire
from sandbox.sitoo_api.orders import (
    OrderLine,
    Payment,
    Voucher,
    gift_card,
    refund_order,
    sale_order,
)
from tests.support.sitoo_orders import random_sale

RULE = CustomerRule("registered", "email")


def served(body: dict[str, Any], orderid: int = 5) -> dict[str, Any]:
    order = wire(
        new_order(body, orderid=orderid, eshopid=1, now=1_700_000_000, currency_code="SEK")
    )
    assert schema.errors(order) == []
    return order


def commands(
    order: dict[str, Any], orderid: int = 5
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = plan(order, OrderRef(1500, 1, orderid), RULE)
    assert isinstance(result, Purchase), result
    purchase, *items = (c["data"]["properties"] for c in result.commands)
    return purchase, items


def cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_sitoo_s_published_order_maps_to_its_own_totals_and_discount() -> None:
    published = schema.example("getOrder.response")
    # The example is an open web order; closed and linked to a customer, it is a POS sale.
    order = {**published, "orderstateid": 10, "additionaldata": {"crm-customerid": "j@x.se"}}
    purchase, (first, second, third) = commands(order, published["orderid"])
    assert purchase["total_price"] == 431.0
    assert purchase["total_price_without_tax"] == 360.0 and purchase["total_tax"] == 71.0
    assert purchase["discount_value"] == 50.0  # the whole order's discount, gross
    assert "original_purchase_id" not in purchase and "warehouse_id" not in purchase
    assert (second["price"], second["original_price"], second["discount_value"]) == (
        100.0,
        125.0,
        25.0,
    )
    assert second["discount_percentage"] == 20.0
    assert second["total_price"] == 200.0 and second["total_price_without_tax"] == 160.0
    assert second["price_without_tax"] == 80.0 and second["quantity"] == 2
    for undiscounted in (first, third):
        assert "discount_value" not in undiscounted and "original_price" not in undiscounted
    assert (third["price"], third["tax_rate"], third["total_price_without_tax"]) == (
        106.0,
        6,
        100.0,
    )
    assert sum(cents(i["total_price"]) for i in (first, second, third)) == Decimal("431.00")
    assert [i["line_id"] for i in (first, second, third)] == [0, 1, 2]


def test_sitoo_s_empty_and_zero_defaults_are_absent_never_values() -> None:
    body = sale_order([OrderLine("", 1, "10.00", vat=25)], customer_id="a@b.se")
    order = served(body)
    order.update({"creditorderid": 0, "warehouseid": 0, "registerid": "", "currencycode": ""})
    order["additionaldata"].update({"store-name": "", "pos-originalsales-orderid": ""})
    purchase, (item,) = commands(order)
    assert purchase["purchase_status"] == "success"  # creditorderid 0 is no refund
    assert "original_purchase_id" not in purchase
    for absent in ("warehouse_id", "register_id", "purchase_source_name", "local_currency"):
        assert absent not in purchase, absent
    assert purchase["product_ids"] == [] and purchase["product_list"] == [{"quantity": 1}]
    assert "product_id" not in item and "sku" not in item  # neither "" (sku) nor "0" (productid)
    assert "voucher_code" not in item and "voucher_code" not in purchase
    order["warehouseid"] = 3
    assert commands(order)[0]["warehouse_id"] == 3


def test_vouchers_gift_cards_and_multi_vat_keep_sitoo_s_totals() -> None:
    body = sale_order(
        [
            OrderLine("A", 1, vat=25, row_price="100.00", voucher=Voucher("SPRING10", 10)),
            OrderLine(
                "B", 2, vat=12, row_price="56.00", voucher=Voucher("FIVE", 5, percentage=False)
            ),
            OrderLine("C", 3, "14.15", vat=6),
            OrderLine("FREE", 1, vat=25, row_price="20.00", row_discount="20.00"),
        ],
        customer_id="anna@example.com",
        payments=[gift_card("6012345678901234", "50.00"), Payment("Card")],
    )
    order = served(body)
    purchase, items = commands(order)
    assert (
        cents(purchase["total_price"])
        == Decimal(order["moneytotal_gross_all"])
        == Decimal("186.00")
    )
    assert cents(purchase["total_tax"]) == Decimal(order["moneyfinal_vat"])
    assert sum(cents(i["total_price"]) for i in items) == Decimal("186.00")
    assert purchase["payment_types"] == ["Gift card", "Card"]
    assert purchase["voucher_code"] == "SPRING10, FIVE"
    assert purchase["discount_value"] == 10.0 + 5.0 + 20.0
    a, b, c, free = items
    assert (a["voucher_code"], a["price"], a["original_price"], a["discount_value"]) == (
        "SPRING10",
        90.0,
        100.0,
        10.0,
    )
    assert (b["price"], b["original_price"], b["discount_value"]) == (25.5, 28.0, 2.5)
    assert "discount_value" not in c and c["tax_rate"] == 6
    assert (free["price"], free["total_price"], free["discount_value"]) == (0.0, 0.0, 20.0)
    assert free["discount_percentage"] == 100.0


def test_a_refunded_discounted_line_is_the_paid_amount_with_its_discount() -> None:
    sale = served(
        sale_order(
            [OrderLine("83428-0", 2, vat=25, row_price="250.00", row_discount="50.00")],
            customer_id="anna@example.com",
        )
    )
    refund = served(refund_order(sale, [(0, 1)]), orderid=6)
    purchase, (item,) = commands(refund, 6)
    assert purchase["purchase_status"] == "refund" and purchase["original_purchase_id"] == "5"
    assert purchase["total_price"] == 100.0 and purchase["total_price_without_tax"] == 80.0
    assert purchase["discount_value"] == 25.0
    assert (item["price"], item["original_price"], item["discount_value"]) == (100.0, 125.0, 25.0)
    assert item["quantity"] == 1 and item["original_line_id"] == "0"


@pytest.mark.parametrize("seed", range(40))
def test_line_totals_add_up_to_sitoo_s_total_to_the_cent(seed: int) -> None:
    order = served(random_sale(random.Random(seed)))
    if not order["additionaldata"].get("crm-customerid") and not order["email"]:
        order["email"] = "someone@example.com"
    purchase, items = commands(order)
    assert cents(purchase["total_price"]) == abs(Decimal(order["moneytotal_gross_all"]))
    assert cents(purchase["total_price_without_tax"]) == abs(Decimal(order["moneyfinal_net"]))
    assert sum(cents(i["total_price"]) for i in items) == cents(purchase["total_price"])
    assert sum(cents(i["total_price_without_tax"]) for i in items) == cents(
        purchase["total_price_without_tax"]
    )
    for item in items:
        assert item["price"] >= 0 and item.get("discount_value", 0) >= 0
        if "discount_value" in item:
            assert abs(
                cents(item["original_price"]) - cents(item["price"]) - cents(item["discount_value"])
            ) <= Decimal("0.01")
