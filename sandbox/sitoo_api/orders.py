"""Builders of realistic Sitoo POS order bodies for ``POST …/sites/{siteid}/orders.json``.

Used by the POS driver (``sandbox/driver``) and tests::

    from sandbox.sitoo_api.orders import OrderLine, Voucher, refund_order, sale_order

    body = sale_order(
        [OrderLine("83428-0", 2, row_price="250.00", row_discount="50.00")],
        customer_id="c-1", receipt_id="10009",
    )
    orderid = await post(".../sites/1/orders.json", body)          # -> 11514
    original = await get(f".../sites/1/orders/{orderid}.json")      # as the server stored it
    refund = refund_order(original, [(0, 1)])                       # return 1 of orderitemid 0

A line is priced the way Sitoo's ``addOrder`` example does it — ``moneyrowprice``, the row total
incl. VAT before the row discount, and ``moneyrowdiscount`` — whenever it has a row price, a
row discount or a voucher; a plain ``price_net`` line keeps the older net unit price form. The
server derives every other money field (see :func:`sandbox.sitoo_api.order_items.build_item`).

A POS sale is ``ordertypeid`` 10, closed (``orderstateid`` 10) and paid (``paymentstateid``
20). A refund is a *new* order: negative quantities, positive ``moneynetpriceperunit``,
negative payment, ``creditorderid`` and ``additionaldata["pos-originalsales-orderid"]`` pointing
at the original, each line's ``pos-originalsales-orderitemid`` at the original line (spec §5.7);
a discounted line is refunded at what was paid for it (see :func:`_refund_item`).
Payments are computed with the server's rounding, so they add up to ``moneytotal_gross_all``.
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
GIFT_CARD_PAYMENT = "Gift card"

#: Order ``additionaldata`` keys a refund inherits from its original sale.
INHERITED_KEYS = (
    "crm-customerid",
    "crm-membernumber",
    "store-externalid",
    "store-name",
    "pos-staff-externalid",
)


@dataclass(frozen=True)
class Voucher:
    """A voucher applied to a line [inferred: Sitoo shows it on the line it discounted, with
    ``voucherid`` / ``vouchercode`` / ``vouchername`` / ``vouchervalue``; the money it takes off
    is the line's ``moneyrowdiscount``]. ``value`` is a percentage or a fixed gross sum."""

    code: str
    value: str | int | Decimal
    percentage: bool = True
    name: str = ""
    voucherid: int = 0
    comment: str = ""

    def discount(self, gross_row: Decimal) -> Decimal:
        """The gross row discount this voucher gives on a row of ``gross_row`` (never more)."""
        value = Decimal(str(self.value))
        off = gross_row * value / 100 if self.percentage else value
        return Decimal(format_money(min(abs(off), abs(gross_row))))


@dataclass(frozen=True)
class OrderLine:
    """One product line.

    ``price_net`` is the net unit price (money string, int or Decimal) — the older form.
    ``row_price`` is the gross row total before the discount (Sitoo's ``moneyrowprice``) and
    ``row_discount`` the gross row discount; a ``voucher`` adds its discount to the row's.
    """

    sku: str
    quantity: int = 1
    price_net: str | int | Decimal = "100.00"
    vat: int | float = 25
    name: str = ""
    product_id: int | None = None
    original_price_net: str | int | Decimal | None = None
    additionaldata: Mapping[str, str] | None = None
    row_price: str | int | Decimal | None = None
    row_discount: str | int | Decimal | None = None
    voucher: Voucher | None = None


@dataclass(frozen=True)
class Payment:
    """One payment. ``amount`` ``None`` takes what is left to pay."""

    name: str = "Card"
    amount: str | int | Decimal | None = None
    additionaldata: Mapping[str, str] | None = None


def gift_card(cardnumber: str, amount: str | int | Decimal | None = None) -> Payment:
    """A gift-card payment as Sitoo keys it (payment ``additionaldata["giftcard-cardnumber"]``)."""
    masked = "*" * max(len(cardnumber) - 4, 0) + cardnumber[-4:]
    return Payment(
        GIFT_CARD_PAYMENT,
        amount,
        {"giftcard-cardnumber": cardnumber, "giftcard-cardnumber-display": masked},
    )


def _row_gross(price_net: str, quantity: int, vat: int | float) -> Decimal:
    """Gross row total with the server's rounding (net row, VAT rounded to cents)."""
    net = Decimal(price_net) * quantity
    return net + Decimal(format_money(net * Decimal(str(vat)) / 100))


def _uses_row_price(line: OrderLine) -> bool:
    return line.row_price is not None or line.row_discount is not None or line.voucher is not None


def _item(line: OrderLine) -> tuple[dict[str, Any], Decimal]:
    """The written item and the gross amount it adds to the order."""
    item: dict[str, Any] = {
        "orderitemtype": ORDER_ITEM_TYPE_PRODUCT,
        "sku": line.sku,
        "productname": line.name or f"Product {line.sku}",
        "quantity": line.quantity,
        "vatvalue": line.vat,
        "additionaldata": dict(line.additionaldata or {}),
    }
    if line.product_id is not None:
        item["productid"] = line.product_id
    if not _uses_row_price(line):
        item["moneynetpriceperunit"] = money(line.price_net)
        if line.original_price_net is not None:
            item["moneyoriginalprice"] = money(line.original_price_net)
        return item, _row_gross(item["moneynetpriceperunit"], line.quantity, line.vat)
    if line.row_price is not None:
        gross_before = Decimal(money(line.row_price))
    else:
        gross_before = _row_gross(money(line.price_net), line.quantity, line.vat)
    discount = abs(Decimal(money(line.row_discount))) if line.row_discount is not None else 0
    if line.voucher is not None:
        discount = Decimal(format_money(discount + line.voucher.discount(gross_before)))
        item.update(
            {
                "voucherid": line.voucher.voucherid,
                "vouchercode": line.voucher.code,
                "vouchername": line.voucher.name or line.voucher.code,
                "vouchercomment": line.voucher.comment,
                "vouchervalue": float(Decimal(str(line.voucher.value))),
            }
        )
    discount = min(Decimal(discount), abs(gross_before))
    item["moneyrowprice"] = format_money(gross_before)
    if discount:
        item["moneyrowdiscount"] = format_money(discount)
    sign = 1 if line.quantity > 0 else -1
    return item, gross_before - sign * discount


def _payments(payments: Sequence[Payment], total: Decimal) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    left = total
    for index, payment in enumerate(payments):
        last = index == len(payments) - 1
        amount = left if payment.amount is None or last else Decimal(money(payment.amount))
        left -= amount
        out.append(
            {
                "name": payment.name,
                "moneyamount": format_money(amount),
                "additionaldata": dict(payment.additionaldata or {}),
            }
        )
    return out


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
    payments: Sequence[Payment] | None = None,
    currency: str | None = None,
    externalid: str | None = None,
    additionaldata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A completed POS sale. ``orderdate`` (Unix s) defaults to the server's clock; set it in
    the past for offline sales. ``customer_id`` / ``member_number`` become ``crm-customerid``
    / ``crm-membernumber``; ``receipt_id`` becomes ``pos-receiptid``. ``payments`` split the
    total (the last one takes the rest); by default one ``payment_name`` payment pays it all."""
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
    built = [_item(line) for line in lines]
    items = [item for item, _ in built]
    total = sum((gross for _, gross in built), Decimal(0))
    chosen = list(payments) if payments else [Payment(payment_name)]
    body: dict[str, Any] = {
        "ordertypeid": POS_ORDER_TYPE,
        "orderstateid": ORDER_CLOSED,
        "paymentstateid": PAYMENT_SUCCESSFUL,
        "email": email,
        "namefirst": namefirst,
        "namelast": namelast,
        "phone": phone,
        "checkouttypename": f"Sitoo POS - {chosen[0].name}",
        "additionaldata": data,
        "orderitems": items,
        "payments": _payments(chosen, total),
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


def _refund_item(
    source: Mapping[str, Any], quantity: int, item_data: dict[str, str]
) -> tuple[dict[str, Any], Decimal]:
    """Return ``quantity`` units of ``source`` (a line as the API serves it) at what was paid.

    A whole line is written like its sale row, negated — ``moneyrowprice`` = -(gross paid +
    row discount), ``moneyrowdiscount`` = the row discount — so it mirrors the sale to the cent.
    Part of a line is returned at the line's unit prices [inferred, as a till would]: the
    discounted ``moneynetpriceperunit`` with the line's ``moneyoriginalprice``.
    """
    sold = int(source["quantity"])
    item: dict[str, Any] = {
        "orderitemtype": source.get("orderitemtype", ORDER_ITEM_TYPE_PRODUCT),
        "sku": source["sku"],
        "productname": source.get("productname", ""),
        "quantity": -quantity,
        "vatvalue": source["vatvalue"],
        "additionaldata": item_data,
    }
    if source.get("productid"):
        item["productid"] = source["productid"]
    if source.get("vouchercode"):
        for key in ("voucherid", "vouchercode", "vouchername", "vouchercomment", "vouchervalue"):
            if key in source:
                item[key] = source[key]
    if quantity != sold:
        unit = source["moneynetpriceperunit"]
        item["moneynetpriceperunit"] = unit
        original = source.get("moneyoriginalprice")
        if original and original != unit:
            item["moneyoriginalprice"] = original
        return item, _row_gross(unit, -quantity, source["vatvalue"])
    vat = Decimal(str(source.get("vatvalue") or 0))
    paid = Decimal(source["moneyitemtotal_net"]) + Decimal(source["moneyitemtotal_vat"])
    source_data: Mapping[str, str] = source.get("additionaldata") or {}
    row_discount = source_data.get("orderitem-moneyrowdiscount")
    if row_discount:
        discount = abs(Decimal(row_discount))
    else:  # discounted through net unit prices: the net discount with its VAT
        net_discount = Decimal(source.get("moneydiscount") or "0") * sold
        discount = Decimal(format_money(net_discount * (1 + vat / 100)))
    item["moneyrowprice"] = format_money(-(paid + discount))
    if discount:
        item["moneyrowdiscount"] = format_money(discount)
    return item, -paid


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
    total = Decimal(0)
    for orderitemid, quantity in wanted:
        if orderitemid not in by_id:
            raise ValueError(f"order {original['orderid']} has no orderitemid {orderitemid}")
        if quantity <= 0 or quantity > by_id[orderitemid]["quantity"]:
            raise ValueError(f"cannot return {quantity} of orderitemid {orderitemid}")
        source = by_id[orderitemid]
        item_data = {"pos-originalsales-orderitemid": str(orderitemid)}
        if reason_code is not None:
            item_data["reasoncode-return"] = reason_code
        item, gross = _refund_item(source, quantity, item_data)
        items.append(item)
        total += gross
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
    original_payments = original.get("payments") or []
    payment_name = original_payments[0]["name"] if original_payments else "Card"
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
