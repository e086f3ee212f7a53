"""The emulator against Sitoo's *published* order schema and examples (``…/sitoo_api/schema``).

* Sitoo's ``addOrder`` example, posted as published, reads back as the published ``getOrder``
  example to the cent — every money field of the order and of each line.
* Every order the emulator serves (seeded random sales, refunds, discounts, vouchers, split and
  gift-card payments, many lines), every list envelope and every log list validates against the
  published schema as it is — no relaxed copy.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sandbox.sitoo_api import schema
from sandbox.sitoo_api.orders import (
    OrderLine,
    Payment,
    Voucher,
    gift_card,
    manual_refund_order,
    refund_order,
    sale_order,
)
from tests.support.sitoo_orders import random_line, random_sale

ORDERS = "/v2/accounts/1500/sites/1/orders.json"
EXAMPLE_DATE = 1550669772
#: Where Sitoo's own examples break Sitoo's schema: ``null`` in fields typed string / integer /
#: number without ``nullable``. The emulator leaves these out instead (see models.wire).
EXAMPLE_NULLS = [
    "creditorderid: None is not of type 'integer'",
    "datereserved: None is not of type 'integer'",
    "externalid: None is not of type 'string'",
    "orderitems/0/decimalunitquantity: None is not of type 'string'",
    "orderitems/1/decimalunitquantity: None is not of type 'string'",
    "orderitems/2/decimalunitquantity: None is not of type 'string'",
    "orderlogitems/0/fvalue: None is not of type 'number'",
    "orderlogitems/0/strvalue: None is not of type 'string'",
    "registerid: None is not of type 'string'",
    "userid_staff: None is not of type 'string'",
    "warehouseid: None is not of type 'integer'",
]


def test_the_validator_is_strict_and_names_where_sitoo_s_own_example_breaks_the_schema() -> None:
    assert schema.errors(schema.example("getOrder.response")) == EXAMPLE_NULLS
    broken = {**schema.example("getOrder.response"), "moneytotal_net": 360.0}
    assert "moneytotal_net: 360.0 is not of type 'string'" in schema.errors(broken)
    assert schema.errors({"orderid": 1}) == ["<root>: 'ordertypeid' is a required property"]


async def test_published_add_order_example_reads_back_as_the_published_get_example(
    start_emulator: Any, make_config: Any
) -> None:
    api = await start_emulator(make_config(first_orderid=11514))
    published = schema.example("getOrder.response")
    # The published body as it is, plus the date the published answer shows.
    body = {**schema.example("addOrder.request"), "orderdate": EXAMPLE_DATE}
    orderid = await api.add(body)
    assert orderid == published["orderid"]
    served = await api.order(orderid)
    assert schema.errors(served) == []

    money = [key for key in published if key.startswith("money")]
    assert {key: served[key] for key in money} == {key: published[key] for key in money}
    assert served["moneytotal_net"] == "360.00" and served["moneytotal_gross_all"] == "431.00"
    assert len(served["orderitems"]) == len(published["orderitems"]) == 3
    for ours, theirs in zip(served["orderitems"], published["orderitems"], strict=True):
        line_money = [key for key in theirs if key.startswith("money")]
        assert {k: ours[k] for k in line_money} == {k: theirs[k] for k in line_money}, theirs["sku"]
    discounted = served["orderitems"][1]
    assert (discounted["moneynetpriceperunit"], discounted["moneyitemtotal_net"]) == (
        "80.00",
        "160.00",
    )

    def same_shape(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> None:
        # ``productid``: Sitoo resolves it from its product catalogue, which is not emulated.
        expected = [k for k, v in theirs.items() if v is not None]
        assert [k for k in ours if k != "reservedpayments"] == expected, where
        for key in expected:
            if key in ("productid", "orderitems", "orderlogitems"):
                continue
            assert ours[key] == theirs[key], f"{where}.{key}"

    same_shape(served, published, "order")
    for i, (ours, theirs) in enumerate(
        zip(served["orderitems"], published["orderitems"], strict=True)
    ):
        same_shape(ours, theirs, f"orderitems[{i}]")
    assert served["reservedpayments"] == []
    (log,) = served["orderlogitems"]
    assert log == {"datelog": EXAMPLE_DATE, "orderid": orderid, "orderlogtypeid": 0}


# --- seeded random orders (tests/support/sitoo_orders.py) -----------------------------


def _check_money_adds_up(order: dict[str, Any], where: str) -> None:
    lines = order["orderitems"]
    net = sum((Decimal(i["moneyitemtotal_net"]) for i in lines), Decimal(0))
    vat = sum((Decimal(i["moneyitemtotal_vat"]) for i in lines), Decimal(0))
    paid = sum((Decimal(p["moneyamount"]) for p in order["payments"]), Decimal(0))
    assert Decimal(order["moneytotal_net"]) == net, where
    assert Decimal(order["moneytotal_vat"]) == vat, where
    assert Decimal(order["moneytotal_gross_all"]) == net + vat == paid, where
    for item in lines:
        unit = Decimal(item["moneynetpriceperunit"])
        original = Decimal(item["moneyoriginalprice"])
        assert unit >= 0 and original >= 0, where
        if item["moneydiscount"] != "0.00":
            assert Decimal(item["moneydiscount"]) == original - unit, where
            assert item["moneydiscountedprice"] == item["moneynetpriceperunit"], where


async def test_every_served_order_validates_against_the_published_schema(api: Any) -> None:
    served: list[int] = []
    for seed in range(60):
        rng = random.Random(seed)
        where = f"seed {seed}"
        sale_id = await api.add(random_sale(rng))
        sale = await api.order(sale_id)
        assert schema.errors(sale) == [], where
        _check_money_adds_up(sale, where)
        served.append(sale_id)
        lines = sale["orderitems"]
        partial = [
            (i["orderitemid"], rng.randint(1, i["quantity"])) for i in lines if rng.random() < 0.5
        ]
        for wanted in ([*partial] or None, None):
            refund = await api.order(await api.add(refund_order(sale, wanted)))
            assert schema.errors(refund) == [], where
            _check_money_adds_up(refund, where)
            assert refund["creditorderid"] == sale_id
            assert all(i["quantity"] < 0 for i in refund["orderitems"]), where
            served.append(refund["orderid"])
        full = await api.order(served[-1])
        assert Decimal(full["moneytotal_gross_all"]) == -Decimal(sale["moneytotal_gross_all"]), (
            where
        )
        manual = await api.order(await api.add(manual_refund_order([random_line(rng, 0)])))
        assert schema.errors(manual) == [], where
        assert "creditorderid" not in manual
        served.append(manual["orderid"])

    page = await api.list(num="1000", sort="orderid")
    assert page.status == 200
    assert schema.errors(page.body, schema.ORDER_LIST) == []
    assert [o["orderid"] for o in page.body["items"]] == served
    # ``ordertypeid`` is the schema's one required order property, so a ``fields`` whitelist
    # that leaves it out cannot validate; Sitoo's own default whitelist includes it.
    narrow = await api.list(
        fields="orderid,ordertypeid,externalid,creditorderid,orderitems", num="50"
    )
    assert schema.errors(narrow.body, schema.ORDER_LIST) == []
    logs = await api.get(f"/v2/accounts/1500/sites/1/orders/{served[0]}/orderlogitems.json")
    assert all(schema.errors(item, "orderlogitem-read.yaml") == [] for item in logs.body["items"])


async def test_a_discounted_line_refunds_at_what_was_paid(api: Any) -> None:
    sale = await api.order(
        await api.add(
            sale_order([OrderLine("83428-0", 2, vat=25, row_price="250.00", row_discount="50.00")])
        )
    )
    one = await api.order(await api.add(refund_order(sale, [(0, 1)])))
    (item,) = one["orderitems"]
    assert (item["quantity"], item["moneyitemtotal_net"], item["moneyitemtotal_vat"]) == (
        -1,
        "-80.00",
        "-20.00",
    )
    assert (item["moneyoriginalprice"], item["moneydiscount"]) == ("100.00", "20.00")
    assert "orderitem-moneyrowdiscount" not in item["additionaldata"]  # unit prices
    both = await api.order(await api.add(refund_order(sale, [(0, 2)])))
    (item,) = both["orderitems"]
    assert item["additionaldata"]["orderitem-moneyrowdiscount"] == "50.00"  # the row, mirrored
    assert (both["moneytotal_net"], both["moneytotal_gross_all"]) == ("-160.00", "-200.00")
    assert one["moneytotal_gross_all"] == one["payments"][0]["moneyamount"] == "-100.00"


async def test_vouchers_and_gift_cards_are_shown_as_sitoo_keys_them(api: Any) -> None:
    body = sale_order(
        [
            OrderLine(
                "A", 1, vat=25, row_price="100.00", voucher=Voucher("SPRING10", 10, name="Spring")
            ),
            OrderLine(
                "B", 2, vat=12, row_price="56.00", voucher=Voucher("FIVE", 5, percentage=False)
            ),
        ],
        payments=[gift_card("6012345678901234", "50.00"), Payment("Card")],
    )
    order = await api.order(await api.add(body))
    first, second = order["orderitems"]
    assert (first["vouchercode"], first["vouchername"], first["vouchervalue"]) == (
        "SPRING10",
        "Spring",
        10,
    )
    assert first["moneyitemtotal_net"] == "72.00" and first["moneydiscount"] == "8.00"
    assert second["additionaldata"]["orderitem-moneyrowdiscount"] == "5.00"
    assert Decimal(second["moneyitemtotal_net"]) + Decimal(second["moneyitemtotal_vat"]) == 51
    assert order["moneytotal_gross_all"] == "141.00"
    gift, card = order["payments"]
    assert (gift["name"], gift["moneyamount"], card["moneyamount"]) == (
        "Gift card",
        "50.00",
        "91.00",
    )
    assert gift["additionaldata"]["giftcard-cardnumber"] == "6012345678901234"
    assert schema.errors(order) == []
