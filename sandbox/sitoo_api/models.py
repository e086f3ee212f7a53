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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.sitoo_api.errors import ApiError

JsonObject = dict[str, Any]
Checker = Callable[[str, object], object]

ORDER_STATES = {0: "Open", 10: "Closed", 20: "Cancelled", -1: "Abandoned"}
PAYMENT_STATES = {
    0: "None",
    10: "Pending",
    15: "Reserved",
    20: "Successful",
    30: "Cancelled",
    40: "Failed",
}
ORDER_TYPES = {10: "Order", 100: "Booking", 110: "POSParked"}
ORDER_ITEM_TYPE_PRODUCT = 10
ORDER_LOG_CREATED = 0
WRITABLE_LOG_TYPES = frozenset({900, 910})  # ReadyForPickup, PickupRejected

_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")
_MONEY = re.compile(r"^-?\d{1,13}(\.\d{1,2})?$")
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,3})?$")
_EXTERNALID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_COUNTRY = re.compile(r"^([A-Z]{2})?$")  # "" is Sitoo's "not set"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


# --- encodings ---------------------------------------------------------------------------


def format_money(value: Decimal) -> str:
    """``Decimal`` → Sitoo money string (2 decimals, half-up, never ``-0.00``)."""
    quantized = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if quantized == 0:
        quantized = abs(quantized)
    return f"{quantized:.2f}"


def format_decimal(value: Decimal) -> str:
    """``Decimal`` → Sitoo decimal string (3 decimals)."""
    quantized = value.quantize(_MILLI, rounding=ROUND_HALF_UP)
    if quantized == 0:
        quantized = abs(quantized)
    return f"{quantized:.3f}"


def money(value: str | int | Decimal) -> str:
    """Normalise a money value given as text, int or ``Decimal`` to Sitoo's money string."""
    return format_money(Decimal(str(value)))


def parse_money(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


# --- checkers ------------------------------------------------------------------------------


def _fail(path: str, expected: str) -> ApiError:
    return ApiError(400, f"Invalid value for field '{path}': expected {expected}")


def text(
    *, nullable: bool = True, max_len: int = 1000, regex: re.Pattern[str] | None = None
) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) > max_len:
            raise _fail(path, f"a string of at most {max_len} characters")
        if regex is not None and not regex.match(value):
            raise _fail(path, f"a string matching {regex.pattern}")
        return value

    return check


def integer(
    *, nullable: bool = True, choices: Mapping[int, str] | None = None, minimum: int | None = None
) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(path, "an integer")
        if choices is not None and value not in choices:
            raise _fail(path, f"one of {sorted(choices)}")
        if minimum is not None and value < minimum:
            raise _fail(path, f"an integer >= {minimum}")
        return value

    return check


def number(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(path, "a number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return check


def money_text(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _MONEY.match(value):
            raise _fail(path, 'a money string such as "123.50"')
        return format_money(Decimal(value))

    return check


def decimal_text(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _DECIMAL.match(value):
            raise _fail(path, 'a decimal string such as "1.000"')
        return format_decimal(Decimal(value))

    return check


def string_map(path: str, value: object) -> dict[str, str]:
    """``additionaldata``: an object of string → string."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _fail(f"{path}.{key}", "a string")
    return dict(value)


Spec = dict[str, tuple[Checker, object]]

_TEXT = text()
_TEXT_NN = text(nullable=False)

ORDER_WRITE: Spec = {
    "eshopid": (integer(minimum=1), None),
    "externalid": (text(regex=_EXTERNALID), None),
    "creditorderid": (integer(minimum=1), None),
    "ordertypeid": (integer(nullable=False, choices=ORDER_TYPES), None),
    "orderstateid": (integer(nullable=False, choices=ORDER_STATES), 0),
    "paymentstateid": (integer(nullable=False, choices=PAYMENT_STATES), 0),
    "orderdate": (integer(minimum=0), None),
    "registerid": (_TEXT, None),
    "warehouseid": (integer(minimum=1), None),
    "userid_staff": (_TEXT, None),
    "currencycode": (text(regex=_CURRENCY), None),
    "email": (_TEXT, ""),
    "namefirst": (_TEXT, ""),
    "namelast": (_TEXT, ""),
    "personalid": (_TEXT, ""),
    "company": (_TEXT, ""),
    "phone": (_TEXT, ""),
    "invoice_address": (_TEXT, ""),
    "invoice_address2": (_TEXT, ""),
    "invoice_zip": (_TEXT, ""),
    "invoice_city": (_TEXT, ""),
    "invoice_state": (_TEXT, ""),
    "invoice_countryid": (text(regex=_COUNTRY), ""),
    "delivery_address": (_TEXT, ""),
    "delivery_address2": (_TEXT, ""),
    "delivery_zip": (_TEXT, ""),
    "delivery_city": (_TEXT, ""),
    "delivery_state": (_TEXT, ""),
    "delivery_countryid": (text(regex=_COUNTRY), ""),
    "customerref": (_TEXT, ""),
    "checkoutref": (_TEXT, ""),
    "comment": (_TEXT, ""),
    "commentinternal": (_TEXT, ""),
    "checkouttypeid": (integer(), 0),
    "checkoutmethodid": (integer(), 0),
    "checkoutmethodsubid": (integer(), 0),
    "checkouttypename": (_TEXT, ""),
    "deliverytypeid": (integer(), 0),
    "deliverytypename": (_TEXT, ""),
    "datereserved": (integer(minimum=0), None),
    "moneycheckout_net": (money_text(), "0.00"),
    "moneycheckout_vat": (money_text(), "0.00"),
    "moneydelivery_net": (money_text(), "0.00"),
    "moneydelivery_vat": (money_text(), "0.00"),
    "moneyfinal_salestax": (money_text(), "0.00"),
    "moneytotal_gross_roundoff": (money_text(), "0.00"),
}
ORDER_COLLECTIONS = (
    "additionaldata",
    "orderitems",
    "payments",
    "reservedpayments",
    "orderlogitems",
)
ORDER_COMPUTED = (
    "moneytotal_net",
    "moneytotal_vat",
    "moneytotal_gross_checkout",
    "moneytotal_gross_delivery",
    "moneyfinal_net",
    "moneyfinal_vat",
    "moneytotal_gross_all",
)
#: Every property of an order as the API returns it, in the order of Sitoo's published
#: ``getOrder`` example (``reservedpayments`` is not in that example; it sits before the log).
ORDER_FIELDS: tuple[str, ...] = (
    "orderid",
    "eshopid",
    "externalid",
    "creditorderid",
    "checkouttypeid",
    "deliverytypeid",
    "email",
    "namefirst",
    "namelast",
    "personalid",
    "company",
    "phone",
    "invoice_address",
    "invoice_address2",
    "invoice_zip",
    "invoice_city",
    "invoice_state",
    "invoice_countryid",
    "delivery_address",
    "delivery_address2",
    "delivery_zip",
    "delivery_city",
    "delivery_state",
    "delivery_countryid",
    "comment",
    "commentinternal",
    "customerref",
    "checkoutref",
    "moneytotal_net",
    "moneytotal_vat",
    "moneycheckout_net",
    "moneycheckout_vat",
    "moneytotal_gross_checkout",
    "moneydelivery_net",
    "moneydelivery_vat",
    "moneytotal_gross_delivery",
    "moneyfinal_net",
    "moneyfinal_vat",
    "moneyfinal_salestax",
    "moneytotal_gross_roundoff",
    "moneytotal_gross_all",
    "checkouttypename",
    "checkoutmethodid",
    "checkoutmethodsubid",
    "deliverytypename",
    "orderdate",
    "orderstateid",
    "paymentstateid",
    "ordertypeid",
    "userid_staff",
    "registerid",
    "warehouseid",
    "datereserved",
    "currencycode",
    "additionaldata",
    "orderitems",
    "payments",
    "reservedpayments",
    "orderlogitems",
)
assert set(ORDER_FIELDS) == {"orderid", *ORDER_WRITE, *ORDER_COMPUTED, *ORDER_COLLECTIONS}

ITEM_WRITE: Spec = {
    "orderitemtype": (integer(nullable=False), ORDER_ITEM_TYPE_PRODUCT),
    # [inferred] 0 = "no product link", as ``voucherid`` 0 is "no voucher" in Sitoo's example.
    "productid": (integer(), 0),
    "productname": (_TEXT, ""),
    "sku": (_TEXT, ""),
    "productattributes": (_TEXT, ""),
    "externalinput": (_TEXT, ""),
    "externalinputtitle": (_TEXT, ""),
    "unitlabel": (_TEXT, ""),
    "quantity": (integer(nullable=False), None),
    "decimalunitquantity": (decimal_text(), None),
    "moneynetpriceperunit": (money_text(), None),
    "moneypriceorg": (money_text(), "0.00"),
    "vatvalue": (number(nullable=False), 0),
    "moneyoriginalprice": (money_text(), None),
    "voucherid": (integer(), 0),
    "vouchercode": (_TEXT, ""),
    "vouchername": (_TEXT, ""),
    "vouchercomment": (_TEXT, None),
    "vouchervalue": (number(), None),
    "deliveryinfo": (_TEXT, ""),
}
ITEM_WRITE_ONLY: Spec = {
    "moneyrowprice": (money_text(), None),
    "moneyrowdiscount": (money_text(), None),
}
#: An order item's properties in the order of Sitoo's published ``getOrder`` example;
#: ``vouchercomment`` / ``vouchervalue`` (in the schema, not in the example) follow the voucher.
ITEM_FIELDS: tuple[str, ...] = (
    "orderitemid",
    "orderitemtype",
    "productid",
    "productname",
    "sku",
    "productattributes",
    "externalinput",
    "externalinputtitle",
    "unitlabel",
    "quantity",
    "decimalunitquantity",
    "moneynetpriceperunit",
    "moneypriceorg",
    "vatvalue",
    "deliveryinfo",
    "moneyitemtotal_net",
    "moneyitemtotal_vat",
    "voucherid",
    "vouchercode",
    "vouchername",
    "vouchercomment",
    "vouchervalue",
    "moneyoriginalprice",
    "moneydiscountedprice",
    "moneydiscount",
    "salestaxes",
    "additionaldata",
    "decimalquantitytotal",
    "moneynetpriceperquantity",
)
SALESTAX_WRITE: Spec = {
    "name": (_TEXT, ""),
    "code": (_TEXT, ""),
    "externalid": (_TEXT, ""),
    "groupregion": (_TEXT, ""),
    "moneytotal": (money_text(), "0.00"),
    "moneytax": (money_text(), "0.00"),
    "decimaltaxvalue": (decimal_text(), "0.000"),
}
PAYMENT_WRITE: Spec = {
    "name": (_TEXT_NN, None),
    "moneyamount": (money_text(nullable=False), None),
    "externalid": (_TEXT, ""),
    "reftype": (_TEXT, ""),
    "refid": (_TEXT, ""),
    "cardissuer": (_TEXT, ""),
    "reservedpaymentid": (_TEXT, None),
}
RESERVED_PAYMENT_WRITE: Spec = {
    "id": (_TEXT_NN, None),
    "name": (_TEXT_NN, None),
    "moneyreserved": (money_text(nullable=False), None),
    "externalid": (_TEXT, ""),
    "reftype": (_TEXT, ""),
    "refid": (_TEXT, ""),
    "cardissuer": (_TEXT, ""),
}
LOG_WRITE: Spec = {
    "datelog": (integer(minimum=0), None),
    "orderlogtypeid": (integer(nullable=False), None),
    "strvalue": (_TEXT, None),
    "fvalue": (number(), None),
}


def _object(path: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _fail(path, "an object")
    return value


def _list(path: str, value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "an array")
    return value


def _check_fields(
    path: str,
    body: Mapping[str, object],
    spec: Spec,
    *,
    extra: tuple[str, ...] = (),
    partial: bool = False,
) -> JsonObject:
    """Validate ``body`` against ``spec``; unknown fields are a 400 naming the field."""
    for name in body:
        if name not in spec and name not in extra:
            raise ApiError(400, f"Unknown or read-only field '{path}{name}'")
    out: JsonObject = {}
    for name, (check, default) in spec.items():
        if name in body:
            out[name] = check(f"{path}{name}", body[name])
        elif not partial:
            out[name] = default
    return out


def _require(path: str, out: Mapping[str, object], *names: str) -> None:
    for name in names:
        if out.get(name) is None:
            raise ApiError(400, f"Missing required field '{path}{name}'")


# --- order items ---------------------------------------------------------------------------


def _row_discount_sign(quantity: int, row_discount: Decimal) -> Decimal:
    """A row discount moves the row total toward zero, whichever sign it was written with."""
    return abs(row_discount) if quantity > 0 else -abs(row_discount)


def build_item(path: str, raw: object, orderitemid: int) -> JsonObject:
    """Validate one written order item and compute what Sitoo computes for it.

    The documented way to price a line (Sitoo's ``addOrder`` example) is the write-only
    ``moneyrowprice``: the row total **incl. VAT and before** ``moneyrowdiscount`` (the gross row
    discount, echoed as ``additionaldata["orderitem-moneyrowdiscount"]``). From them, exactly as
    the published ``getOrder`` example shows (250.00 with 50.00 off at 25 % → 160.00 net):

    * ``moneyitemtotal_net`` = (rowprice - rowdiscount) / (1 + VAT), to the cent;
      ``moneyitemtotal_vat`` = (rowprice - rowdiscount) - net — so net + VAT is what was paid;
    * ``moneynetpriceperunit`` = net row / quantity (positive), ``moneyoriginalprice`` =
      rowprice / (1 + VAT) / quantity;
    * with a row discount: ``moneydiscountedprice`` = the unit price, ``moneydiscount`` =
      original - unit price; without one both are ``"0.00"`` (as in the example).

    [inferred] alternative kept for older callers: a net ``moneynetpriceperunit`` (optionally with
    ``moneyoriginalprice``, the net unit price before a discount); VAT is then net x rate.
    """
    body = _object(path.rstrip("."), raw)
    fields = _check_fields(
        path, body, {**ITEM_WRITE, **ITEM_WRITE_ONLY}, extra=("additionaldata", "salestaxes")
    )
    _require(path, fields, "quantity")
    quantity: int = fields["quantity"]
    if quantity == 0:
        raise _fail(f"{path}quantity", "a non-zero integer")
    additional = string_map(f"{path}additionaldata", body.get("additionaldata"))
    salestaxes = [
        _check_fields(
            f"{path}salestaxes[{i}].", _object(f"{path}salestaxes[{i}]", tax), SALESTAX_WRITE
        )
        for i, tax in enumerate(_list(f"{path}salestaxes", body.get("salestaxes")))
    ]
    vat_rate = Decimal(str(fields["vatvalue"])) / 100
    row_price = fields.pop("moneyrowprice")
    row_discount = fields.pop("moneyrowdiscount")
    original = fields.pop("moneyoriginalprice")
    discounted = False
    if row_price is not None:
        if fields["moneynetpriceperunit"] is not None or original is not None:
            raise ApiError(
                400,
                f"Give either '{path}moneyrowprice' or '{path}moneynetpriceperunit' "
                "(with 'moneyoriginalprice'), not both",
            )
        gross_before = Decimal(row_price)
        reduction = _row_discount_sign(quantity, Decimal(row_discount or 0))
        gross = gross_before - reduction
        net_row = Decimal(format_money(gross / (1 + vat_rate)))
        vat_row = gross - net_row
        per_unit = Decimal(format_money(abs(net_row / quantity)))
        original_unit = Decimal(format_money(abs(gross_before / (1 + vat_rate) / quantity)))
        discounted = reduction != 0
    else:
        if row_discount is not None:
            raise ApiError(400, f"'{path}moneyrowdiscount' needs '{path}moneyrowprice'")
        _require(path, fields, "moneynetpriceperunit")
        per_unit = Decimal(fields["moneynetpriceperunit"])
        net_row = per_unit * quantity
        vat_row = Decimal(format_money(net_row * vat_rate))
        original_unit = Decimal(original) if original is not None else per_unit
        discounted = original_unit != per_unit
    fields["moneynetpriceperunit"] = format_money(per_unit)
    if row_discount is not None:
        additional["orderitem-moneyrowdiscount"] = row_discount
    unit_quantity = fields["decimalunitquantity"]
    unit_factor = Decimal(unit_quantity) if unit_quantity else Decimal(1)
    if fields["vouchercode"]:
        # A voucher line carries all of the schema's voucher fields (``vouchervalue`` is a
        # number: percentage or fixed sum); other lines show only the example's ones.
        fields["vouchercomment"] = fields["vouchercomment"] or ""
        fields["vouchervalue"] = fields["vouchervalue"] or 0
    item: JsonObject = {
        "orderitemid": orderitemid,
        **fields,
        "moneyitemtotal_net": format_money(net_row),
        "moneyitemtotal_vat": format_money(vat_row),
        "moneyoriginalprice": format_money(original_unit),
        "moneydiscountedprice": format_money(per_unit) if discounted else "0.00",
        "moneydiscount": format_money(original_unit - per_unit) if discounted else "0.00",
        "decimalquantitytotal": format_decimal(unit_factor * quantity),
        "moneynetpriceperquantity": format_money(per_unit * unit_factor),
        "salestaxes": salestaxes,
        "additionaldata": additional,
    }
    return {name: item[name] for name in ITEM_FIELDS}


def _build_payment(path: str, raw: object, spec: Spec, required: tuple[str, ...]) -> JsonObject:
    body = _object(path.rstrip("."), raw)
    fields = _check_fields(path, body, spec, extra=("additionaldata",))
    _require(path, fields, *required)
    fields["additionaldata"] = string_map(f"{path}additionaldata", body.get("additionaldata"))
    return fields


def build_log_item(path: str, raw: object, orderid: int, default_date: int) -> JsonObject:
    body = _object(path.rstrip("."), raw)
    fields = _check_fields(path, body, LOG_WRITE)
    _require(path, fields, "orderlogtypeid")
    return {
        "datelog": fields["datelog"] if fields["datelog"] is not None else default_date,
        "orderid": orderid,
        "orderlogtypeid": fields["orderlogtypeid"],
        "strvalue": fields["strvalue"],
        "fvalue": fields["fvalue"],
    }


# --- orders --------------------------------------------------------------------------------


def validate_write(body: object, *, partial: bool) -> JsonObject:
    """Validate the scalar fields of an order write body (POST, or PUT with ``partial``)."""
    order = _object("body", body)
    fields = _check_fields("", order, ORDER_WRITE, extra=ORDER_COLLECTIONS, partial=partial)
    if not partial:
        _require("", fields, "ordertypeid")
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
            for i, raw in enumerate(_list("orderitems", body.get("orderitems")))
        ]
    if "payments" in body or not partial:
        out["payments"] = [
            _build_payment(f"payments[{i}].", raw, PAYMENT_WRITE, ("name", "moneyamount"))
            for i, raw in enumerate(_list("payments", body.get("payments")))
        ]
    if "reservedpayments" in body or not partial:
        out["reservedpayments"] = [
            _build_payment(
                f"reservedpayments[{i}].",
                raw,
                RESERVED_PAYMENT_WRITE,
                ("id", "name", "moneyreserved"),
            )
            for i, raw in enumerate(_list("reservedpayments", body.get("reservedpayments")))
        ]
    if "orderlogitems" in body:
        if partial:
            raise ApiError(400, "Field 'orderlogitems' is read-only; use orderlogitems.json")
        out["orderlogitems"] = [
            build_log_item(f"orderlogitems[{i}].", raw, orderid, orderdate)
            for i, raw in enumerate(_list("orderlogitems", body.get("orderlogitems")))
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
