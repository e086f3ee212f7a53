"""Add / get / put orders, what the server computes, refunds and the order builders."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.sitoo_api.models import ORDER_FIELDS, format_decimal, format_money, money
from sandbox.sitoo_api.orders import OrderLine, manual_refund_order, refund_order, sale_order

ORDERS = "/v2/accounts/1500/sites/1/orders.json"


def order_path(orderid: int, site: int = 1) -> str:
    return f"/v2/accounts/1500/sites/{site}/orders/{orderid}.json"


async def test_add_returns_increasing_integer_ids(api: Any) -> None:
    first = await api.post(ORDERS, json=sale_order([OrderLine("A")]))
    assert first.status == 200
    assert type(first.body) is int
    second = await api.add(sale_order([OrderLine("B")]), site=2)
    third = await api.add(sale_order([OrderLine("C")]))
    assert first.body < second < third
    assert (second, third) == (first.body + 1, first.body + 2)


async def test_first_orderid_is_configurable(start_emulator: Any, make_config: Any) -> None:
    api = await start_emulator(make_config(first_orderid=11514))
    assert await api.add(sale_order([OrderLine("A")])) == 11514


async def test_a_rejected_order_does_not_consume_an_id(api: Any) -> None:
    first = await api.add(sale_order([OrderLine("A")]))
    bad = await api.post(ORDERS, json={**sale_order([OrderLine("A")]), "email": 1})
    assert bad.status == 400
    assert await api.add(sale_order([OrderLine("A")])) == first + 1


async def test_get_returns_the_full_order_as_sitoo_models_it(api: Any) -> None:
    body = sale_order(
        [
            OrderLine("83428-0", 2, "80.00", 25, "Sofa Cosy", 16, original_price_net="100.00"),
            OrderLine("B-1", 1, "9.99", 12),
        ],
        orderdate=1550669772,
        customer_id="cust-7",
        member_number="M100",
        email="john.smith@example.com",
        namefirst="John",
        namelast="Smith",
        receipt_id="SII000000150000110009",
        store_external_id="S01",
        store_name="Main Street",
        staff_external_id="staff-3",
        warehouseid=4,
        registerid="{3CCB9848-0000}",
    )
    orderid = await api.add(body)
    order = await api.order(orderid)
    absent = {"externalid", "creditorderid", "userid_staff", "datereserved"}
    assert list(order) == [name for name in ORDER_FIELDS if name not in absent]
    assert order["orderid"] == orderid
    assert order["eshopid"] == 1
    assert order["orderdate"] == 1550669772
    assert (order["ordertypeid"], order["orderstateid"], order["paymentstateid"]) == (10, 10, 20)
    assert order["currencycode"] == "SEK"
    assert "externalid" not in order and "creditorderid" not in order  # no null: left out
    assert order["additionaldata"] == {
        "crm-customerid": "cust-7",
        "crm-membernumber": "M100",
        "pos-receiptid": "SII000000150000110009",
        "store-externalid": "S01",
        "store-name": "Main Street",
        "pos-staff-externalid": "staff-3",
    }
    first, second = order["orderitems"]
    assert [first["orderitemid"], second["orderitemid"]] == [0, 1]  # as in Sitoo's example
    assert first["sku"] == "83428-0" and first["productid"] == 16
    assert first["quantity"] == 2
    assert first["moneynetpriceperunit"] == "80.00"
    assert first["vatvalue"] == 25
    assert first["moneyitemtotal_net"] == "160.00"
    assert first["moneyitemtotal_vat"] == "40.00"
    assert first["moneyoriginalprice"] == "100.00"
    assert first["moneydiscount"] == "20.00"
    assert first["decimalquantitytotal"] == "2.000"
    assert second["moneyitemtotal_net"] == "9.99"
    assert second["moneyitemtotal_vat"] == "1.20"  # 1.1988 rounded half-up
    assert second["moneydiscount"] == "0.00" and second["moneydiscountedprice"] == "0.00"
    assert second["moneyoriginalprice"] == "9.99" and second["moneypriceorg"] == "0.00"
    assert second["productid"] == 0 and second["voucherid"] == 0 and second["vouchercode"] == ""
    assert order["moneytotal_net"] == "169.99"
    assert order["moneytotal_vat"] == "41.20"
    assert order["moneyfinal_net"] == "169.99"
    assert order["moneyfinal_vat"] == "41.20"
    assert order["moneytotal_gross_all"] == "211.19"
    assert order["payments"] == [
        {
            "name": "Card",
            "moneyamount": "211.19",
            "externalid": "",
            "reftype": "",
            "refid": "",
            "cardissuer": "",
            "additionaldata": {},
        }
    ]
    assert order["orderlogitems"] == [
        {
            "datelog": 1550669772,
            "orderid": orderid,
            "orderlogtypeid": 0,
        }
    ]


async def test_money_and_decimal_formatting(api: Any) -> None:
    body = sale_order([OrderLine("A", 3, "10.5", 25)])
    body["moneydelivery_net"] = "49"
    body["moneydelivery_vat"] = "12.25"
    body["moneytotal_gross_roundoff"] = "-0.5"
    body["orderitems"][0]["decimalunitquantity"] = "0.25"
    order = await api.order(await api.add(body))
    item = order["orderitems"][0]
    assert item["moneynetpriceperunit"] == "10.50"
    assert item["decimalunitquantity"] == "0.250"
    assert item["decimalquantitytotal"] == "0.750"
    assert order["moneydelivery_net"] == "49.00"
    assert order["moneytotal_gross_delivery"] == "61.25"
    assert order["moneytotal_net"] == "31.50"
    assert order["moneyfinal_net"] == "80.50"
    assert order["moneyfinal_vat"] == "20.13"  # 7.875 -> 7.88 + 12.25
    assert order["moneytotal_gross_all"] == "100.13"
    assert order["moneytotal_gross_roundoff"] == "-0.50"
    for key in ORDER_FIELDS:
        if key.startswith("money"):
            assert isinstance(order[key], str) and order[key].count(".") == 1
            assert len(order[key].split(".")[1]) == 2


def test_money_helpers_round_half_up_and_never_negative_zero() -> None:
    from decimal import Decimal

    assert format_money(Decimal("2.345")) == "2.35"
    assert format_money(Decimal("-2.345")) == "-2.35"
    assert format_money(Decimal("-0.001")) == "0.00"
    assert format_decimal(Decimal("1")) == "1.000"
    assert money(7) == "7.00"


async def test_row_price_is_before_the_row_discount(api: Any) -> None:
    body = sale_order([OrderLine("83428-0", 2)])
    item = body["orderitems"][0]
    del item["moneynetpriceperunit"]
    item["moneyrowprice"] = "250.00"
    item["moneyrowdiscount"] = "50.00"
    order = await api.order(await api.add(body))
    stored = order["orderitems"][0]
    assert "moneyrowprice" not in stored and "moneyrowdiscount" not in stored
    assert stored["moneynetpriceperunit"] == "80.00"
    assert stored["moneyitemtotal_net"] == "160.00"
    assert stored["moneyitemtotal_vat"] == "40.00"
    assert stored["moneyoriginalprice"] == "100.00"
    assert stored["moneydiscountedprice"] == "80.00"
    assert stored["moneydiscount"] == "20.00"
    assert stored["additionaldata"] == {"orderitem-moneyrowdiscount": "50.00"}
    assert order["moneytotal_gross_all"] == "200.00"


async def test_row_price_and_unit_price_together_are_400(api: Any) -> None:
    body = sale_order([OrderLine("A")])
    body["orderitems"][0]["moneyrowprice"] = "125.00"
    reply = await api.post(ORDERS, json=body)
    assert reply.status == 400
    assert "moneyrowprice" in reply.body["errortext"]


async def test_server_fills_orderdate_and_currency(api: Any) -> None:
    import time

    before = int(time.time())
    order = await api.order(await api.add(sale_order([OrderLine("A")])))
    assert before <= order["orderdate"] <= int(time.time())
    assert order["orderlogitems"][0]["datelog"] == order["orderdate"]
    other = await api.order(await api.add(sale_order([OrderLine("A")], currency="EUR")))
    assert (order["currencycode"], other["currencycode"]) == ("SEK", "EUR")


async def test_offline_sale_keeps_an_older_orderdate_than_earlier_ids(api: Any) -> None:
    online = await api.add(sale_order([OrderLine("A")], orderdate=1_700_000_000))
    offline = await api.add(sale_order([OrderLine("A")], orderdate=1_600_000_000))
    assert offline > online
    assert (await api.order(offline))["orderdate"] < (await api.order(online))["orderdate"]


async def test_put_updates_returns_true_and_recomputes(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A", 1, "100.00")], email="a@example.com"))
    reply = await api.put(
        order_path(orderid),
        json={
            "orderstateid": 20,
            "email": "b@example.com",
            "additionaldata": {"weborder": "true"},
            "orderitems": [{"sku": "A", "quantity": 3, "moneynetpriceperunit": "10.00"}],
        },
    )
    assert reply.status == 200
    assert reply.body is True
    order = await api.order(orderid)
    assert order["orderstateid"] == 20
    assert order["email"] == "b@example.com"
    assert order["additionaldata"] == {"weborder": "true"}
    assert order["orderitems"][0]["quantity"] == 3
    assert order["orderitems"][0]["vatvalue"] == 0
    assert order["moneytotal_gross_all"] == "30.00"
    assert order["payments"][0]["moneyamount"] == "125.00"  # untouched collection
    assert order["orderdate"] > 0


async def test_externalid_is_unique_per_account(api: Any) -> None:
    await api.add(sale_order([OrderLine("A")], externalid="web-1"))
    reply = await api.post(ORDERS, json=sale_order([OrderLine("A")], externalid="web-1"))
    assert reply.status == 400
    assert "externalid" in reply.body["errortext"]
    other = await api.add(sale_order([OrderLine("A")], externalid="web-2"))
    clash = await api.put(order_path(other), json={"externalid": "web-1"})
    assert clash.status == 400
    assert (await api.put(order_path(other), json={"externalid": "web-2"})).status == 200


async def test_fields_on_get_order(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")], email="x@example.com"))
    reply = await api.get(order_path(orderid), params={"fields": "orderid,email"})
    assert reply.body == {"orderid": orderid, "email": "x@example.com"}


async def test_refund_is_a_new_negative_order_linked_to_the_original(api: Any) -> None:
    sale = sale_order(
        [OrderLine("A", 2, "80.00"), OrderLine("B", 1, "20.00", 12)],
        customer_id="c-9",
        store_external_id="S01",
    )
    original_id = await api.add(sale)
    original = await api.order(original_id)
    refund_id = await api.add(refund_order(original, [(0, 1)], reason_code="damaged"))
    refund = await api.order(refund_id)
    assert refund_id > original_id
    assert refund["ordertypeid"] == 10
    assert refund["creditorderid"] == original_id
    assert refund["additionaldata"]["pos-originalsales-orderid"] == str(original_id)
    assert refund["additionaldata"]["crm-customerid"] == "c-9"
    assert refund["additionaldata"]["refundreasoncode-reasoncode"] == "damaged"
    (item,) = refund["orderitems"]
    assert item["quantity"] == -1
    assert item["moneynetpriceperunit"] == "80.00"
    assert item["moneyitemtotal_net"] == "-80.00"
    assert item["moneyitemtotal_vat"] == "-20.00"
    assert item["additionaldata"]["pos-originalsales-orderitemid"] == "0"
    assert refund["moneytotal_gross_all"] == "-100.00"
    assert refund["payments"][0]["moneyamount"] == "-100.00"
    assert refund["payments"][0]["additionaldata"] == {"pos-originalsales-payment-index": "0"}
    # A full refund of the rest.
    full = await api.order(await api.add(refund_order(original)))
    assert [i["quantity"] for i in full["orderitems"]] == [-2, -1]
    assert full["moneytotal_gross_all"] == "-222.40"


async def test_manual_refund_has_no_creditorderid(api: Any) -> None:
    refund = await api.order(await api.add(manual_refund_order([OrderLine("A", 2, "10.00")])))
    assert "creditorderid" not in refund
    assert "pos-originalsales-orderid" not in refund["additionaldata"]
    assert refund["orderitems"][0]["quantity"] == -2
    assert refund["moneytotal_gross_all"] == "-25.00"


def test_refund_builder_rejects_unknown_lines_and_over_returns() -> None:
    original = {
        "orderid": 5,
        "orderitems": [
            {
                "orderitemid": 0,
                "sku": "A",
                "quantity": 1,
                "moneynetpriceperunit": "1.00",
                "vatvalue": 0,
            }
        ],
    }
    with pytest.raises(ValueError, match="orderitemid 9"):
        refund_order(original, [(9, 1)])
    with pytest.raises(ValueError, match="cannot return 2"):
        refund_order(original, [(0, 2)])


async def test_orderlogitems_endpoint(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")], orderdate=1_600_000_000))
    path = f"/v2/accounts/1500/sites/1/orders/{orderid}/orderlogitems.json"
    bad = await api.post(path, json={"orderlogtypeid": 21, "strvalue": "Staff"})
    assert bad.status == 400
    assert "orderlogtypeid" in bad.body["errortext"]
    ok = await api.post(path, json={"orderlogtypeid": 900, "datelog": 1_600_000_100})
    assert (ok.status, ok.body) == (200, True)
    listed = await api.get(path)
    assert listed.body["totalcount"] == 2
    assert [i["orderlogtypeid"] for i in listed.body["items"]] == [0, 900]
    assert (await api.order(orderid))["orderlogitems"][1]["datelog"] == 1_600_000_100


async def test_pos_written_log_items_are_kept(api: Any) -> None:
    body = sale_order([OrderLine("A")])
    body["orderlogitems"] = [
        {"orderlogtypeid": 999, "strvalue": "Register 1 (SII0000001500001)\nReceipt #10009\nStaff"}
    ]
    order = await api.order(await api.add(body))
    assert [log["orderlogtypeid"] for log in order["orderlogitems"]] == [0, 999]
    assert order["orderlogitems"][1]["orderid"] == order["orderid"]


async def test_eventual_consistency_hides_new_orders_for_n_reads(
    start_emulator: Any, make_config: Any
) -> None:
    api = await start_emulator(make_config(not_found_reads=2))
    orderid = await api.add(sale_order([OrderLine("A")]))
    assert (await api.get(order_path(orderid))).status == 404
    assert (await api.get(order_path(orderid))).status == 404
    assert (await api.get(order_path(orderid))).status == 200
    settings = await api.put("/_sandbox/settings", json={"not_found_reads": 0})
    assert settings.body == {"max_num": 1000, "not_found_reads": 0}
    assert (await api.get(order_path(await api.add(sale_order([OrderLine("B")]))))).status == 200
