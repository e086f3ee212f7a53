"""``GET …/orders.json``: filters, paging, totalcount, sort, fields and seeding."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.sitoo_api.orders import OrderLine, refund_order, sale_order

SITE_ORDERS = "/v2/accounts/1500/sites/1/orders.json"


@pytest.fixture
async def shop(api: Any) -> dict[str, int]:
    """Six orders with distinct attributes; returns name → orderid."""
    ids: dict[str, int] = {}
    ids["a"] = await api.add(
        sale_order(
            [OrderLine("A")],
            orderdate=1000,
            email="Ann@Example.com",
            warehouseid=1,
            receipt_id="R-1",
        )
    )
    ids["b"] = await api.add(
        sale_order(
            [OrderLine("B")],
            orderdate=2000,
            email="bob@example.com",
            warehouseid=2,
            externalid="web-b",
        )
    )
    ids["c"] = await api.add(sale_order([OrderLine("C")], orderdate=3000, warehouseid=1), site=2)
    ids["d"] = await api.add(
        {
            **sale_order([OrderLine("D")], orderdate=4000),
            "orderstateid": 0,
            "paymentstateid": 10,
            "ordertypeid": 100,
        }
    )
    original = await api.order(ids["a"])
    ids["r1"] = await api.add(refund_order(original, [(0, 1)], orderdate=5000))
    ids["e"] = await api.add(sale_order([OrderLine("E")], orderdate=6000, receipt_id="R-2"))
    return ids


async def test_envelope_default_sort_is_newest_first(api: Any, shop: dict[str, int]) -> None:
    reply = await api.list()
    assert reply.status == 200
    assert set(reply.body) == {"totalcount", "items"}
    assert reply.body["totalcount"] == 6
    assert [o["orderid"] for o in reply.body["items"]] == sorted(shop.values(), reverse=True)


async def test_sort_ascending_and_descending(api: Any, shop: dict[str, int]) -> None:
    assert await api.ids(sort="orderid") == sorted(shop.values())
    assert await api.ids(sort="-orderid") == sorted(shop.values(), reverse=True)


async def test_paging_and_totalcount_before_paging(api: Any, shop: dict[str, int]) -> None:
    everything = sorted(shop.values())
    page = await api.list(sort="orderid", start="2", num="3")
    assert page.body["totalcount"] == 6
    assert [o["orderid"] for o in page.body["items"]] == everything[2:5]
    beyond = await api.list(start="10")
    assert beyond.body == {"totalcount": 6, "items": []}
    count_only = await api.list(num="0")
    assert count_only.body == {"totalcount": 6, "items": []}


async def test_default_page_size_is_10(api: Any) -> None:
    await api.seed({"template": sale_order([OrderLine("A")]), "count": 25})
    reply = await api.list()
    assert reply.body["totalcount"] == 25
    assert len(reply.body["items"]) == 10


async def test_orderid_filter_with_multiple_values(api: Any, shop: dict[str, int]) -> None:
    wanted = f"{shop['a']},{shop['e']},99999"
    assert await api.ids(orderid=wanted, sort="orderid") == [shop["a"], shop["e"]]
    reply = await api.list(orderid=str(shop["b"]))
    assert reply.body["totalcount"] == 1
    assert reply.body["items"][0]["eshopid"] == 1


async def test_orderidfrom_inclusive_orderidto_exclusive(api: Any, shop: dict[str, int]) -> None:
    got = await api.ids(orderidfrom=str(shop["b"]), orderidto=str(shop["r1"]), sort="orderid")
    assert got == [shop["b"], shop["c"], shop["d"]]


async def test_orderdate_range_is_half_open(api: Any, shop: dict[str, int]) -> None:
    got = await api.ids(orderdatefrom="2000", orderdateto="4000", sort="orderid")
    assert got == [shop["b"], shop["c"]]


async def test_eshopid_filter_and_site_level_list(api: Any, shop: dict[str, int]) -> None:
    assert await api.ids(eshopid="2") == [shop["c"]]
    assert len(await api.ids(eshopid="1,2")) == 6
    site_one = await api.get(SITE_ORDERS, params={"num": "100"})
    assert site_one.body["totalcount"] == 5
    assert shop["c"] not in [o["orderid"] for o in site_one.body["items"]]
    # The per-site list has no eshopid filter: the parameter is ignored and counted.
    ignored = await api.get(SITE_ORDERS, params={"eshopid": "2"})
    assert ignored.body["totalcount"] == 5
    stats = await api.get("/_sandbox/stats")
    assert stats.body["ignored_params"] == {"eshopid": 1}


async def test_unknown_parameters_are_ignored_but_counted(api: Any, shop: dict[str, int]) -> None:
    reply = await api.list(datefrom="5000")
    assert reply.body["totalcount"] == 6
    assert (await api.get("/_sandbox/stats")).body["ignored_params"] == {"datefrom": 1}


async def test_externalid_filter(api: Any, shop: dict[str, int]) -> None:
    assert await api.ids(externalid="web-b,nope") == [shop["b"]]


async def test_state_and_type_filters(api: Any, shop: dict[str, int]) -> None:
    assert await api.ids(orderstate="0") == [shop["d"]]
    assert len(await api.ids(orderstate="10,0")) == 6
    assert await api.ids(paymentstate="10") == [shop["d"]]
    assert await api.ids(ordertype="100") == [shop["d"]]
    assert len(await api.ids(ordertype="10")) == 5


async def test_warehouseid_filter(api: Any, shop: dict[str, int]) -> None:
    # The refund r1 happened in the original's warehouse.
    assert await api.ids(warehouseid="1", sort="orderid") == [shop["a"], shop["c"], shop["r1"]]
    assert await api.ids(warehouseid="2") == [shop["b"]]


async def test_email_filter_is_whole_address_case_insensitive(
    api: Any, shop: dict[str, int]
) -> None:
    # The refund r1 carries the original's customer.
    assert await api.ids(email="ann@example.com") == [shop["r1"], shop["a"]]
    assert await api.ids(email="ann@example.com,BOB@example.com", sort="orderid") == [
        shop["a"],
        shop["b"],
        shop["r1"],
    ]
    assert await api.ids(email="example.com") == []


async def test_creditorderid_lists_refunds_and_overrides_orderid(
    api: Any, shop: dict[str, int]
) -> None:
    original = await api.order(shop["a"])
    second_refund = await api.add(refund_order(original, [(0, 1)], orderdate=7000))
    assert await api.ids(creditorderid=str(shop["a"])) == [second_refund, shop["r1"]]
    # orderid is overridden by creditorderid ...
    assert await api.ids(creditorderid=str(shop["a"]), orderid=str(shop["e"])) == [
        second_refund,
        shop["r1"],
    ]
    # ... but the other filters still apply.
    assert await api.ids(creditorderid=str(shop["a"]), orderdateto="6000") == [shop["r1"]]
    assert await api.ids(creditorderid=str(shop["b"])) == []


async def test_receiptid_filter_overrides_orderid(api: Any, shop: dict[str, int]) -> None:
    assert await api.ids(receiptid="R-1,R-2", sort="orderid") == [shop["a"], shop["e"]]
    assert await api.ids(receiptid="R-2", orderid=str(shop["a"])) == [shop["e"]]
    body = sale_order([OrderLine("A")])
    body["orderlogitems"] = [
        {"orderlogtypeid": 999, "strvalue": "Register 1 (SII0000001500001)\nReceipt #10009\nStaff"}
    ]
    logged = await api.add(body)
    assert await api.ids(receiptid="SII000000150000110009") == [logged]


async def test_receiptid_index_follows_put(api: Any, shop: dict[str, int]) -> None:
    path = f"/v2/accounts/1500/sites/1/orders/{shop['e']}.json"
    assert (await api.put(path, json={"additionaldata": {"pos-receiptid": "R-9"}})).status == 200
    assert await api.ids(receiptid="R-2") == []
    assert await api.ids(receiptid="R-9") == [shop["e"]]


async def test_fields_whitelist_applies_to_items(api: Any, shop: dict[str, int]) -> None:
    reply = await api.list(fields="orderid,orderdate", num="2")
    assert reply.body["totalcount"] == 6
    assert reply.body["items"] == [
        {"orderid": shop["e"], "orderdate": 6000},
        {"orderid": shop["r1"], "orderdate": 5000},
    ]


async def test_filters_combine(api: Any, shop: dict[str, int]) -> None:
    got = await api.ids(warehouseid="1", eshopid="1", orderdatefrom="500", orderdateto="5000")
    assert got == [shop["a"]]


async def test_seeding_thousands_for_a_backfill(api: Any) -> None:
    ids = await api.seed(
        {
            "template": sale_order([OrderLine("A", 1, "10.00")], customer_id="c"),
            "count": 5000,
            "orderdate": 1_600_000_000,
            "orderdate_step": 60,
            "email_pattern": "customer{n}@example.com",
        }
    )
    assert len(ids) == 5000 and ids == list(range(ids[0], ids[0] + 5000))
    # Reconciliation pattern: orderidfrom=last+1&sort=orderid&num=N.
    seen: list[int] = []
    last = 0
    while True:
        page = await api.list(orderidfrom=str(last + 1), sort="orderid", num="1000")
        items = page.body["items"]
        if not items:
            break
        seen.extend(o["orderid"] for o in items)
        last = items[-1]["orderid"]
    assert seen == ids
    window = await api.list(
        orderdatefrom=str(1_600_000_000 + 60 * 100), orderdateto=str(1_600_000_000 + 60 * 200)
    )
    assert window.body["totalcount"] == 100
    one = await api.order(ids[42])
    assert one["orderdate"] == 1_600_000_000 + 42 * 60
    assert one["email"] == "customer42@example.com"
    assert one["orderlogitems"][0] == {
        "datelog": one["orderdate"],
        "orderid": ids[42],
        "orderlogtypeid": 0,
    }
    assert await api.ids(email="customer4999@example.com") == [ids[-1]]
    # Ids keep increasing after seeding.
    assert await api.add(sale_order([OrderLine("A")])) == ids[-1] + 1


async def test_seeding_a_list_with_refunds(api: Any) -> None:
    first = await api.seed({"orders": [sale_order([OrderLine("A", 2)])]})
    original = await api.order(first[0])
    refund = await api.seed({"orders": [refund_order(original, [(0, 2)])], "site": 1})
    assert await api.ids(creditorderid=str(first[0])) == refund
    bad = await api.post("/_sandbox/accounts/1500/orders", json={"orders": [{"ordertypeid": 1}]})
    assert bad.status == 400
    assert "ordertypeid" in bad.body["errortext"]
    missing = await api.post("/_sandbox/accounts/999/orders", json={"orders": []})
    assert missing.status == 404


async def test_reset_forgets_orders_and_restarts_ids(api: Any, shop: dict[str, int]) -> None:
    assert (await api.post("/_sandbox/reset")).body == {"ok": True}
    assert (await api.list()).body == {"totalcount": 0, "items": []}
    assert await api.add(sale_order([OrderLine("A")])) == min(shop.values())
    stats = (await api.get("/_sandbox/stats")).body
    assert stats["orders"] == {"1500": 1}
    assert stats["requests"] == {"list_all_orders": 1, "add_order": 1}


async def test_sandbox_raw_order_and_state_dump_need_no_auth(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")]))
    raw = await api.get(f"/_sandbox/accounts/1500/orders/{orderid}", auth=None)
    assert raw.status == 200
    assert raw.body["orderid"] == orderid
    assert (await api.get("/_sandbox/accounts/1500/orders/999", auth=None)).status == 404
    state = await api.get("/_sandbox/state", auth=None)
    assert [o["orderid"] for o in state.body["accounts"]["1500"]["orders"]] == [orderid]
    assert state.body["accounts"]["1500"]["next_orderid"] == orderid + 1


async def test_runtime_max_num_setting(api: Any) -> None:
    assert (await api.put("/_sandbox/settings", json={"max_num": 5})).status == 200
    assert (await api.list(num="6")).status == 400
    assert (await api.put("/_sandbox/settings", json={"max_num": 0})).status == 400
    assert (await api.put("/_sandbox/settings", json={"other": 1})).status == 400
    assert (await api.get("/_sandbox/settings")).body == {"max_num": 5, "not_found_reads": 0}
