"""Status codes and Sitoo's error body on every non-2xx answer."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sandbox.sitoo_api.orders import OrderLine, sale_order

ORDERS = "/v2/accounts/1500/sites/1/orders.json"
ALL_ORDERS = "/v2/accounts/1500/orders.json"


def assert_error(reply: Any, status: int, *words: str) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert set(reply.body) == {"statuscode", "errortext"}
    assert reply.body["statuscode"] == status
    assert isinstance(reply.body["errortext"], str) and reply.body["errortext"]
    for word in words:
        assert word in reply.body["errortext"]
    assert reply.headers["Content-Type"].startswith("application/json")


# --- 401 ---------------------------------------------------------------------------------


async def test_missing_credentials_is_401(api: Any) -> None:
    reply = await api.get(ALL_ORDERS, auth=None)
    assert_error(reply, 401, "Authorization failed")
    assert reply.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("login", "password"),
    [("1500-1", "wrong"), ("1500-2", "s3cret"), ("1500-1", ""), ("1500", "s3cret")],
)
async def test_wrong_credentials_are_401(api: Any, login: str, password: str) -> None:
    reply = await api.get(ALL_ORDERS, auth=(login, password))
    assert_error(reply, 401)


async def test_account_in_url_differing_from_api_id_prefix_is_401(api: Any) -> None:
    reply = await api.get("/v2/accounts/1501/orders.json")
    assert_error(reply, 401, "account")
    # The same credentials work for their own account.
    assert (await api.get(ALL_ORDERS)).status == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic",
    ],
)
async def test_malformed_authorization_header_is_401(api: Any, header: str) -> None:
    reply = await api.get(ALL_ORDERS, auth=None, headers={"Authorization": header})
    assert_error(reply, 401)


async def test_writes_need_auth_too(api: Any) -> None:
    reply = await api.post(ORDERS, json=sale_order([OrderLine("A")]), auth=None)
    assert_error(reply, 401)
    assert (await api.get("/_sandbox/stats")).body["orders"]["1500"] == 0


# --- 404 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v2/accounts/1500/orders",
        "/v2/accounts/1500/sites/1/orders",
        "/v2/accounts/1500/sites/1/orders/1",
        "/v2/accounts/1500/sites/1/orders/1.xml",
        "/v2/accounts/1500/sites/1/orders/abc.json",
        "/v2/accounts/1500/customers.json",
        "/nothing",
    ],
)
async def test_unknown_paths_and_missing_json_suffix_are_404(api: Any, path: str) -> None:
    assert_error(await api.get(path), 404)


async def test_post_without_json_suffix_is_404(api: Any) -> None:
    reply = await api.post("/v2/accounts/1500/sites/1/orders", json=sale_order([OrderLine("A")]))
    assert_error(reply, 404)


async def test_unknown_order_is_404(api: Any) -> None:
    assert_error(await api.get("/v2/accounts/1500/sites/1/orders/999.json"), 404, "999")
    reply = await api.put("/v2/accounts/1500/sites/1/orders/999.json", json={"orderstateid": 10})
    assert_error(reply, 404)


async def test_order_of_another_site_is_404_on_that_site(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")]), site=2)
    assert_error(await api.get(f"/v2/accounts/1500/sites/1/orders/{orderid}.json"), 404)
    assert (await api.get(f"/v2/accounts/1500/sites/2/orders/{orderid}.json")).status == 200


async def test_unknown_site_is_404(api: Any) -> None:
    assert_error(await api.get("/v2/accounts/1500/sites/7/orders.json"), 404, "Site")


async def test_delete_is_404_and_keeps_the_order(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")]))
    path = f"/v2/accounts/1500/sites/1/orders/{orderid}.json"
    assert_error(await api.request("DELETE", path), 404)
    assert (await api.get(path)).status == 200


# --- 400 ---------------------------------------------------------------------------------


async def test_invalid_json_is_400(api: Any) -> None:
    reply = await api.post(ORDERS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(reply, 400, "JSON")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ordertypeid": "10"}, "ordertypeid"),
        ({"ordertypeid": 99}, "ordertypeid"),
        ({"orderstateid": 5}, "orderstateid"),
        ({"paymentstateid": True}, "paymentstateid"),
        ({"orderdate": "2024-01-01"}, "orderdate"),
        ({"email": 5}, "email"),
        ({"externalid": "has space"}, "externalid"),
        ({"additionaldata": {"crm-customerid": 42}}, "additionaldata.crm-customerid"),
        ({"additionaldata": []}, "additionaldata"),
        ({"orderitems": {}}, "orderitems"),
        ({"payments": [{"name": "Card", "moneyamount": 10}]}, "payments[0].moneyamount"),
        ({"payments": [{"moneyamount": "1.00"}]}, "payments[0].name"),
        ({"moneydelivery_net": "1.234"}, "moneydelivery_net"),
        ({"invoice_countryid": "swe"}, "invoice_countryid"),
        ({"currencycode": "kr"}, "currencycode"),
        ({"orderid": 5}, "orderid"),
        ({"moneytotal_gross_all": "1.00"}, "moneytotal_gross_all"),
        ({"customerid": "x"}, "customerid"),
        ({"eshopid": 2}, "eshopid"),
    ],
)
async def test_wrong_order_fields_are_400_naming_the_field(
    api: Any, change: dict[str, Any], field: str
) -> None:
    body = {**sale_order([OrderLine("A")]), **change}
    reply = await api.post(ORDERS, json=body)
    assert_error(reply, 400, f"'{field}'")
    assert (await api.get("/_sandbox/stats")).body["orders"]["1500"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 1.5}, "orderitems[0].quantity"),
        ({"quantity": 0}, "orderitems[0].quantity"),
        ({"moneynetpriceperunit": 100}, "orderitems[0].moneynetpriceperunit"),
        ({"moneynetpriceperunit": "ten"}, "orderitems[0].moneynetpriceperunit"),
        ({"vatvalue": "25"}, "orderitems[0].vatvalue"),
        ({"sku": None, "productid": "16"}, "orderitems[0].productid"),
        ({"decimalunitquantity": 1.5}, "orderitems[0].decimalunitquantity"),
        ({"moneyitemtotal_net": "1.00"}, "orderitems[0].moneyitemtotal_net"),
        ({"orderitemid": 3}, "orderitems[0].orderitemid"),
        (
            {"additionaldata": {"crm-promotionid": 1}},
            "orderitems[0].additionaldata.crm-promotionid",
        ),
    ],
)
async def test_wrong_item_fields_are_400_naming_the_field(
    api: Any, change: dict[str, Any], field: str
) -> None:
    body = sale_order([OrderLine("A")])
    body["orderitems"][0].update(change)
    assert_error(await api.post(ORDERS, json=body), 400, f"'{field}'")


async def test_refund_of_unknown_order_or_with_positive_quantities_is_400(api: Any) -> None:
    body = sale_order([OrderLine("A", -1)])
    body["creditorderid"] = 12345
    assert_error(await api.post(ORDERS, json=body), 400, "'creditorderid'", "12345")
    original = await api.add(sale_order([OrderLine("A", 2)]))
    body = sale_order([OrderLine("A", 1)])
    body["creditorderid"] = original
    assert_error(await api.post(ORDERS, json=body), 400, "'orderitems[0].quantity'", "negative")


async def test_missing_required_fields_are_400(api: Any) -> None:
    body = sale_order([OrderLine("A")])
    del body["ordertypeid"]
    assert_error(await api.post(ORDERS, json=body), 400, "'ordertypeid'")
    body = sale_order([OrderLine("A")])
    del body["orderitems"][0]["quantity"]
    assert_error(await api.post(ORDERS, json=body), 400, "'orderitems[0].quantity'")
    body = sale_order([OrderLine("A")])
    del body["orderitems"][0]["moneynetpriceperunit"]
    assert_error(await api.post(ORDERS, json=body), 400, "moneynetpriceperunit")


async def test_body_must_be_an_object(api: Any) -> None:
    assert_error(await api.post(ORDERS, json=[1, 2]), 400, "body")


async def test_put_with_wrong_types_is_400_and_changes_nothing(api: Any) -> None:
    orderid = await api.add(sale_order([OrderLine("A")]))
    path = f"/v2/accounts/1500/sites/1/orders/{orderid}.json"
    assert_error(await api.put(path, json={"orderstateid": "closed"}), 400, "'orderstateid'")
    assert_error(await api.put(path, json={"eshopid": 2}), 400, "'eshopid'")
    assert_error(await api.put(path, json={"orderlogitems": []}), 400, "orderlogitems")
    assert (await api.order(orderid))["orderstateid"] == 10


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"num": "1001"}, "num"),
        ({"num": "-1"}, "num"),
        ({"num": "ten"}, "num"),
        ({"start": "-5"}, "start"),
        ({"sort": "orderdate"}, "sort"),
        ({"fields": "orderid,nosuchfield"}, "fields"),
        ({"orderid": "1,x"}, "orderid"),
        ({"orderidfrom": "abc"}, "orderidfrom"),
        ({"orderdatefrom": "2024-01-01"}, "orderdatefrom"),
        ({"orderstate": "7"}, "orderstate"),
        ({"paymentstate": "11"}, "paymentstate"),
        ({"creditorderid": "a"}, "creditorderid"),
    ],
)
async def test_bad_list_parameters_are_400(api: Any, params: dict[str, str], name: str) -> None:
    assert_error(await api.get(ALL_ORDERS, params=params), 400, f"'{name}'")


async def test_num_at_the_maximum_is_fine_and_max_is_configurable(
    start_emulator: Any, make_config: Any
) -> None:
    api = await start_emulator(make_config(max_num=50))
    assert (await api.get(ALL_ORDERS, params={"num": "50"})).status == 200
    assert_error(await api.get(ALL_ORDERS, params={"num": "51"}), 400, "50")


async def test_injected_500_has_the_error_body(api: Any) -> None:
    put = await api.put(
        "/_sandbox/faults",
        json={"faults": {"list_all_orders": {"error_rate": 1, "error_status": 500}}},
    )
    assert put.status == 200
    assert_error(await api.get(ALL_ORDERS), 500)


async def test_403_from_a_fault_has_the_error_body(api: Any) -> None:
    await api.put(
        "/_sandbox/faults", json={"faults": {"*": {"error_rate": 1, "error_status": 403}}}
    )
    assert_error(await api.get(ALL_ORDERS), 403)
