"""Sitoo's order model: validation of write bodies and the server-computed fields.

Encodings follow Sitoo's data types (spec §5.3): ``money`` is a string with 2 decimals,
``decimal`` a string with 3 decimals, dates are integer Unix seconds. The server computes the
order id, every order item id, every row and order total and the creation log item.

Strict choices ([inferred] in the spec, the stricter one taken):

* money / decimal values must be JSON strings (a number is a ``400``);
* unknown fields and read-only fields (``orderid``, the computed totals, ``moneyitemtotal_*``…)
  in a write body are a ``400`` naming the field;
* ``ordertypeid`` must be a documented code (10, 100, 110), ``orderstateid`` and
  ``paymentstateid`` must be documented codes;
* a refund with ``creditorderid`` must reference an existing order and have only negative
  quantities; ``externalid`` is unique per account and matches ``[A-Za-z0-9_-]{1,40}``;
* a line quantity of ``0`` is refused.

What the API answers is held against Sitoo's published order schema (``schema/``, a copy of the
``spysystem/sitoo-client`` OpenAPI): every field the schema types as a string or a number is
served as one, with Sitoo's own defaults where the POS set nothing (``""``, ``"0.00"``, ``0``,
as in the published ``getOrder`` example). The fields that example shows as ``null`` although
the schema types them as a string / integer (``externalid``, ``creditorderid``,
``userid_staff``, ``registerid``, ``warehouseid``, ``datereserved``, ``decimalunitquantity``,
log ``strvalue`` / ``fvalue``) are left out when they have no value ([inferred]: the only
representation the published schema accepts that invents no value) — see :func:`wire`.

The parts: :mod:`~sandbox.sitoo_api.field_checks` (encodings and checkers),
:mod:`~sandbox.sitoo_api.order_specs` (the writable fields), :mod:`~sandbox.sitoo_api.order_items`
(item rows, payments, log items); this module builds and serves whole orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.field_checks import (
    ORDER_ITEM_TYPE_PRODUCT,
    ORDER_LOG_CREATED,
    ORDER_STATES,
    PAYMENT_STATES,
    WRITABLE_LOG_TYPES,
    JsonObject,
    as_list,
    as_object,
    check_fields,
    format_decimal,
    format_money,
    money,
    parse_money,
    require_fields,
    string_map,
)
from sandbox.sitoo_api.order_items import build_item, build_log_item, build_payment
from sandbox.sitoo_api.order_specs import (
    ORDER_COLLECTIONS,
    ORDER_FIELDS,
    ORDER_WRITE,
    PAYMENT_WRITE,
    RESERVED_PAYMENT_WRITE,
)

# --- orders --------------------------------------------------------------------------------


def validate_write(body: object, *, partial: bool) -> JsonObject:
    """Validate the scalar fields of an order write body (POST, or PUT with ``partial``)."""
    order = as_object("body", body)
    fields = check_fields("", order, ORDER_WRITE, extra=ORDER_COLLECTIONS, partial=partial)
    if not partial:
        require_fields("", fields, "ordertypeid")
    return fields


def build_collections(
    body: Mapping[str, object], orderid: int, orderdate: int, *, partial: bool
) -> JsonObject:
    """Validate and build the collections present in ``body`` (all of them unless partial)."""
    out: JsonObject = {}
    if "additionaldata" in body or not partial:
        out["additionaldata"] = string_map("additionaldata", body.get("additionaldata"))
    if "orderitems" in body or not partial:
        out["orderitems"] = [
            build_item(f"orderitems[{i}].", raw, i)
            for i, raw in enumerate(as_list("orderitems", body.get("orderitems")))
        ]
    if "payments" in body or not partial:
        out["payments"] = [
            build_payment(f"payments[{i}].", raw, PAYMENT_WRITE, ("name", "moneyamount"))
            for i, raw in enumerate(as_list("payments", body.get("payments")))
        ]
    if "reservedpayments" in body or not partial:
        out["reservedpayments"] = [
            build_payment(
                f"reservedpayments[{i}].",
                raw,
                RESERVED_PAYMENT_WRITE,
                ("id", "name", "moneyreserved"),
            )
            for i, raw in enumerate(as_list("reservedpayments", body.get("reservedpayments")))
        ]
    if "orderlogitems" in body:
        if partial:
            raise ApiError(400, "Field 'orderlogitems' is read-only; use orderlogitems.json")
        out["orderlogitems"] = [
            build_log_item(f"orderlogitems[{i}].", raw, orderid, orderdate)
            for i, raw in enumerate(as_list("orderlogitems", body.get("orderlogitems")))
        ]
    return out


def compute_totals(order: JsonObject) -> None:
    """Fill the order totals from the rows and the checkout / delivery costs (in place)."""
    items: list[JsonObject] = order["orderitems"]
    total_net = sum((Decimal(item["moneyitemtotal_net"]) for item in items), Decimal(0))
    total_vat = sum((Decimal(item["moneyitemtotal_vat"]) for item in items), Decimal(0))
    checkout_net = parse_money(order["moneycheckout_net"])
    checkout_vat = parse_money(order["moneycheckout_vat"])
    delivery_net = parse_money(order["moneydelivery_net"])
    delivery_vat = parse_money(order["moneydelivery_vat"])
    final_net = total_net + checkout_net + delivery_net
    final_vat = total_vat + checkout_vat + delivery_vat
    gross_all = (
        final_net
        + final_vat
        + parse_money(order["moneyfinal_salestax"])
        + parse_money(order["moneytotal_gross_roundoff"])
    )
    order["moneytotal_net"] = format_money(total_net)
    order["moneytotal_vat"] = format_money(total_vat)
    order["moneytotal_gross_checkout"] = format_money(checkout_net + checkout_vat)
    order["moneytotal_gross_delivery"] = format_money(delivery_net + delivery_vat)
    order["moneyfinal_net"] = format_money(final_net)
    order["moneyfinal_vat"] = format_money(final_vat)
    order["moneytotal_gross_all"] = format_money(gross_all)


def _check_refund_quantities(order: JsonObject) -> None:
    if order["creditorderid"] is None:
        return
    for i, item in enumerate(order["orderitems"]):
        if item["quantity"] > 0:
            raise ApiError(
                400,
                f"Invalid value for field 'orderitems[{i}].quantity': a refund "
                "(creditorderid set) must have negative quantities",
            )


def new_order(
    body: object, *, orderid: int, eshopid: int, now: int, currency_code: str
) -> JsonObject:
    """Build the stored order for a POST body. Cross-order checks are the store's job."""
    fields = validate_write(body, partial=False)
    assert isinstance(body, dict)
    if fields["eshopid"] is not None and fields["eshopid"] != eshopid:
        raise ApiError(400, "Field 'eshopid' does not match the site in the URL")
    fields["eshopid"] = eshopid
    if fields["orderdate"] is None:
        fields["orderdate"] = now
    if fields["currencycode"] is None:
        fields["currencycode"] = currency_code
    order: JsonObject = {"orderid": orderid, **fields}
    order.update(build_collections(body, orderid, fields["orderdate"], partial=False))
    created = {
        "datelog": fields["orderdate"],
        "orderid": orderid,
        "orderlogtypeid": ORDER_LOG_CREATED,
        "strvalue": None,
        "fvalue": None,
    }
    order["orderlogitems"] = [created, *order.get("orderlogitems", [])]
    _check_refund_quantities(order)
    compute_totals(order)
    return {name: order[name] for name in ORDER_FIELDS}


def updated_order(current: JsonObject, body: object) -> JsonObject:
    """Apply a PUT body to a stored order; given collections are replaced as a whole."""
    fields = validate_write(body, partial=True)
    assert isinstance(body, dict)
    for locked in ("eshopid", "creditorderid"):
        if locked in fields and fields[locked] != current[locked]:
            raise ApiError(400, f"Field '{locked}' cannot be changed")
    order = {**current, **fields}
    order.update(build_collections(body, current["orderid"], order["orderdate"], partial=True))
    _check_refund_quantities(order)
    compute_totals(order)
    return order


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def wire(order: JsonObject) -> JsonObject:
    """The order as the API serves it: never a ``null`` (Sitoo's schema types no field as
    nullable), so a field without a value is left out (see the module docstring)."""
    result: JsonObject = _without_nulls(order)
    return result


def select_fields(order: JsonObject, fields: tuple[str, ...] | None) -> JsonObject:
    served = wire(order)
    if fields is None:
        return served
    return {name: served[name] for name in fields if name in served}


# What the other modules of the emulator import from here.
__all__ = [
    "ORDER_FIELDS",
    "ORDER_ITEM_TYPE_PRODUCT",
    "ORDER_STATES",
    "PAYMENT_STATES",
    "WRITABLE_LOG_TYPES",
    "JsonObject",
    "build_log_item",
    "format_decimal",
    "format_money",
    "money",
    "new_order",
    "select_fields",
    "updated_order",
    "wire",
]
