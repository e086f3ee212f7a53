"""Builders of realistic Sitoo POS order bodies for ``POST …/sites/{siteid}/orders.json``.

Used by the POS driver (``sandbox/driver``) and tests::

    from sandbox.sitoo_api.orders import OrderLine, refund_order, sale_order

    body = sale_order([OrderLine("83428-0", 2, "80.00")], customer_id="c-1", receipt_id="10009")
    orderid = await post(".../sites/1/orders.json", body)          # -> 11514
    original = await get(f".../sites/1/orders/{orderid}.json")      # as the server stored it
    refund = refund_order(original, [(1, 1)])                       # return 1 of orderitemid 1

A POS sale is ``ordertypeid`` 10, closed (``orderstateid`` 10) and paid (``paymentstateid``
20). A refund is a *new* order: negative quantities, positive ``moneynetpriceperunit``,
negative payment, ``creditorderid`` and ``additionaldata["pos-originalsales-orderid"]`` pointing
at the original, each line's ``pos-originalsales-orderitemid`` at the original line (spec §5.7).
The payment amount is computed with the server's rounding, so it equals
``moneytotal_gross_all`` of the stored order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sandbox.sitoo_api.models import ORDER_ITEM_TYPE_PRODUCT, format_money, money

POS_ORDER_TYPE = 10
ORDER_CLOSED = 10
PAYMENT_SUCCESSFUL = 20

#: Order ``additionaldata`` keys a refund inherits from its original sale.
INHERITED_KEYS = (
    "crm-customerid",
    "crm-membernumber",
    "store-externalid",
    "store-name",
    "pos-staff-externalid",
)


@dataclass(frozen=True)
class OrderLine:
    """One product line. ``price_net`` is the net unit price (money string, int or Decimal)."""

    sku: str
    quantity: int = 1
    price_net: str | int | Decimal = "100.00"
    vat: int | float = 25
    name: str = ""
    product_id: int | None = None
    original_price_net: str | int | Decimal | None = None
    additionaldata: Mapping[str, str] | None = None


def _row_gross(price_net: str, quantity: int, vat: int | float) -> Decimal:
    """Gross row total with the server's rounding (net row, VAT rounded to cents)."""
    net = Decimal(price_net) * quantity
    return net + Decimal(format_money(net * Decimal(str(vat)) / 100))


def _item(line: OrderLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "orderitemtype": ORDER_ITEM_TYPE_PRODUCT,
        "sku": line.sku,
        "productname": line.name or f"Product {line.sku}",
        "quantity": line.quantity,
        "moneynetpriceperunit": money(line.price_net),
        "vatvalue": line.vat,
        "additionaldata": dict(line.additionaldata or {}),
    }
    if line.product_id is not None:
        item["productid"] = line.product_id
    if line.original_price_net is not None:
        item["moneyoriginalprice"] = money(line.original_price_net)
    return item


def sale_order(
    lines: Sequence[OrderLine],
    *,
    orderdate: int | None = None,
    customer_id: str | None = None,
    member_number: str | None = None,
    email: str = "",
    namefirst: str = "",
    namelast: str = "",
    phone: str = "",
    receipt_id: str | None = None,
    store_external_id: str | None = None,
    store_name: str | None = None,
    staff_external_id: str | None = None,
    warehouseid: int | None = None,
    registerid: str | None = None,
    payment_name: str = "Card",
    currency: str | None = None,
    externalid: str | None = None,
    additionaldata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A completed POS sale. ``orderdate`` (Unix s) defaults to the server's clock; set it in
    the past for offline sales. ``customer_id`` / ``member_number`` become ``crm-customerid``
    / ``crm-membernumber``; ``receipt_id`` becomes ``pos-receiptid``."""
    data: dict[str, str] = {}
    for key, value in (
        ("crm-customerid", customer_id),
        ("crm-membernumber", member_number),
        ("pos-receiptid", receipt_id),
        ("store-externalid", store_external_id),
        ("store-name", store_name),
        ("pos-staff-externalid", staff_external_id),
    ):
        if value is not None:
            data[key] = value
    data.update(additionaldata or {})
    items = [_item(line) for line in lines]
    total = sum(
        (_row_gross(i["moneynetpriceperunit"], i["quantity"], i["vatvalue"]) for i in items),
        Decimal(0),
    )
    body: dict[str, Any] = {
        "ordertypeid": POS_ORDER_TYPE,
        "orderstateid": ORDER_CLOSED,
        "paymentstateid": PAYMENT_SUCCESSFUL,
        "email": email,
        "namefirst": namefirst,
        "namelast": namelast,
        "phone": phone,
        "checkouttypename": f"Sitoo POS - {payment_name}",
        "additionaldata": data,
        "orderitems": items,
        "payments": [{"name": payment_name, "moneyamount": format_money(total)}],
    }
    optional: dict[str, object] = {
        "orderdate": orderdate,
        "warehouseid": warehouseid,
        "registerid": registerid,
        "currencycode": currency,
        "externalid": externalid,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def refund_order(
    original: Mapping[str, Any],
    lines: Sequence[tuple[int, int]] | None = None,
    *,
    orderdate: int | None = None,
    receipt_id: str | None = None,
    reason_code: str | None = None,
    reason_comment: str | None = None,
    additionaldata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A validated POS return of ``original`` (an order as ``GET …/orders/{id}.json`` returns it).

    ``lines`` are ``(orderitemid, quantity returned)`` pairs with positive quantities; ``None``
    returns every line in full. Customer, store and staff references are copied from the
    original; the refund's payment is negative and points at the original's first payment.
    """
    by_id = {item["orderitemid"]: item for item in original["orderitems"]}
    wanted = lines if lines is not None else [(i, by_id[i]["quantity"]) for i in by_id]
    items: list[dict[str, Any]] = []
    for orderitemid, quantity in wanted:
        if orderitemid not in by_id:
            raise ValueError(f"order {original['orderid']} has no orderitemid {orderitemid}")
        if quantity <= 0 or quantity > by_id[orderitemid]["quantity"]:
            raise ValueError(f"cannot return {quantity} of orderitemid {orderitemid}")
        source = by_id[orderitemid]
        item_data = {"pos-originalsales-orderitemid": str(orderitemid)}
        if reason_code is not None:
            item_data["reasoncode-return"] = reason_code
        item: dict[str, Any] = {
            "orderitemtype": source.get("orderitemtype", ORDER_ITEM_TYPE_PRODUCT),
            "sku": source["sku"],
            "productname": source.get("productname", ""),
            "quantity": -quantity,
            "moneynetpriceperunit": source["moneynetpriceperunit"],
            "vatvalue": source["vatvalue"],
            "additionaldata": item_data,
        }
        for key in ("productid", "moneyoriginalprice"):
            if source.get(key) is not None:
                item[key] = source[key]
        items.append(item)
    total = sum(
        (_row_gross(i["moneynetpriceperunit"], i["quantity"], i["vatvalue"]) for i in items),
        Decimal(0),
    )
    source_data: Mapping[str, str] = original.get("additionaldata") or {}
    data = {key: source_data[key] for key in INHERITED_KEYS if key in source_data}
    data["pos-originalsales-orderid"] = str(original["orderid"])
    if receipt_id is not None:
        data["pos-receiptid"] = receipt_id
    if reason_code is not None:
        data["refundreasoncode-reasoncode"] = reason_code
    if reason_comment is not None:
        data["refundreasoncode-comment"] = reason_comment
    data.update(additionaldata or {})
    payments = original.get("payments") or []
    payment_name = payments[0]["name"] if payments else "Card"
    body: dict[str, Any] = {
        "ordertypeid": POS_ORDER_TYPE,
        "orderstateid": ORDER_CLOSED,
        "paymentstateid": PAYMENT_SUCCESSFUL,
        "creditorderid": original["orderid"],
        "email": original.get("email") or "",
        "namefirst": original.get("namefirst") or "",
        "namelast": original.get("namelast") or "",
        "phone": original.get("phone") or "",
        "checkouttypename": f"Sitoo POS - {payment_name}",
        "additionaldata": data,
        "orderitems": items,
        "payments": [
            {
                "name": payment_name,
                "moneyamount": format_money(total),
                "additionaldata": {"pos-originalsales-payment-index": "0"},
            }
        ],
    }
    for key in ("warehouseid", "registerid", "currencycode"):
        if original.get(key) is not None:
            body[key] = original[key]
    if orderdate is not None:
        body["orderdate"] = orderdate
    return body


def manual_refund_order(lines: Sequence[OrderLine], **options: Any) -> dict[str, Any]:
    """A manual return (no receipt): negative quantities and *no* ``creditorderid`` [inferred].

    ``lines`` carry the returned quantities as positive numbers; ``options`` are those of
    :func:`sale_order`.
    """
    negative = [replace(line, quantity=-abs(line.quantity)) for line in lines]
    return sale_order(negative, **options)
