"""Sitoo order -> Bloomreach commands: classification and deterministic command building.

Pure functions, no I/O. Determinism is the point: the same Sitoo order always yields the same
commands (same ids, same properties, same timestamp), so a resend after a crash is an exact
duplicate that Bloomreach stores once (spec bloomreach-engagement-api.md §2.5).

Sitoo fills fields the POS did not set with its own defaults — ``""`` for text, ``"0.00"`` for
money, ``0`` for ids (``voucherid`` / ``productid``) — or leaves them out; all of those mean
"absent" here, never a value (no ``"0"`` product id, no empty voucher code, no ``0`` warehouse).

Money, as Sitoo computes it: a line's ``moneyitemtotal_net`` + ``moneyitemtotal_vat`` is what
was paid for it (after its discount); its gross row discount is the POS's
``additionaldata["orderitem-moneyrowdiscount"]`` when present, else the net unit discount
``moneydiscount`` x quantity with the line's VAT. ``discount_value`` follows Bloomreach's
definition (the amount saved per unit: ``original_price`` - ``price``, both gross unit prices
like ``price``); the ``purchase`` carries the order's whole discount the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Literal

from core_service.domain.customer import canonical_email

POS_ORDER_TYPE: Final = 10
ORDER_OPEN, ORDER_CLOSED, ORDER_CANCELLED, ORDER_ABANDONED = 0, 10, 20, -1
PAYMENT_CANCELLED, PAYMENT_FAILED = 30, 40
PURCHASE_SOURCE_TYPE: Final = "store"

Kind = Literal["sale", "refund"]
_CENT = Decimal("0.01")
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class OrderRef:
    """Order identity inside one integration: (Sitoo account, eshop/site id, order id)."""

    account_id: int
    eshop_id: int
    order_id: int

    @property
    def key(self) -> str:
        return f"{self.account_id}:{self.eshop_id}:{self.order_id}"

    @classmethod
    def parse(cls, key: str) -> OrderRef:
        account, eshop, order = key.split(":")
        return cls(int(account), int(eshop), int(order))

    def to_json(self) -> JsonObject:
        return {"account_id": self.account_id, "eshop_id": self.eshop_id, "order_id": self.order_id}


@dataclass(frozen=True)
class CustomerRule:
    """How an order finds its Bloomreach customer (from the integration's configuration)."""

    hard_id_name: str
    hard_id_source_field: str  # the Sitoo customer field that feeds the hard ID
    refund_status: str = "refund"


@dataclass(frozen=True)
class Skip:
    """Nothing is sent for this order, for this reason (kept on the outbox message)."""

    reason: str


@dataclass(frozen=True)
class Purchase:
    kind: Kind
    purchase_id: str
    hard_id: str
    commands: tuple[JsonObject, ...]


def _money(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None and value != "" else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _amount(value: Decimal) -> float:
    """Positive, two decimals, as a JSON number (refunds carry positive amounts)."""
    return float(abs(value).quantize(_CENT, rounding=ROUND_HALF_UP))


def _str(value: object) -> str:
    return "" if value is None else str(value).strip()


def _id(value: object) -> str:
    """A Sitoo id as text; ``None``, ``""`` and Sitoo's ``0`` ("none") are all absent."""
    text = _str(value)
    return "" if text in ("", "0") else text


def _warehouse(value: object) -> int | str | None:
    """Sitoo's integer warehouse id; ``0`` / ``""`` / missing is none, odd text passes as text."""
    text = _id(value)
    return int(text) if text.isdigit() else text or None


def _line_discount(item: Mapping[str, Any]) -> Decimal:
    """The gross discount on a line (positive), to the cent."""
    data: Mapping[str, Any] = item.get("additionaldata") or {}
    row = _money(data.get("orderitem-moneyrowdiscount"))
    if row:
        return abs(row)
    per_unit = _money(item.get("moneydiscount"))
    if not per_unit:
        return Decimal(0)
    vat = _money(item.get("vatvalue")) / 100
    quantity = abs(int(item.get("quantity") or 0))
    return abs(per_unit * quantity * (1 + vat)).quantize(_CENT, rounding=ROUND_HALF_UP)


def resolve_hard_id(order: Mapping[str, Any], rule: CustomerRule) -> str | None:
    """``crm-customerid`` if the POS linked a customer (it is the hard-ID value the CRM SPI
    answered with), else the order's own field that feeds the hard ID (normally the e-mail)."""
    data = order.get("additionaldata") or {}
    email_rule = rule.hard_id_source_field == "email"
    customer_id = _str(data.get("crm-customerid"))
    if customer_id:
        return canonical_email(customer_id) if email_rule else customer_id
    if email_rule:
        email = canonical_email(_str(order.get("email")))
        return email or None
    if rule.hard_id_source_field == "member_number":
        return _str(data.get("crm-membernumber")) or None
    if rule.hard_id_source_field == "personal_id":
        return _str(order.get("personalid")) or None
    return None


def _product_lines(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items: Sequence[Mapping[str, Any]] = order.get("orderitems") or []
    return [i for i in items if isinstance(i, Mapping) and int(i.get("quantity") or 0) != 0]


def _product_id(item: Mapping[str, Any]) -> str:
    return _str(item.get("sku")) or _id(item.get("productid"))


def original_order_id(order: Mapping[str, Any]) -> str:
    data = order.get("additionaldata") or {}
    return _id(order.get("creditorderid")) or _id(data.get("pos-originalsales-orderid"))


def classify(order: Mapping[str, Any]) -> Kind | Skip:
    """Sale or refund (spec §5.7), or why the order is not tracked."""
    ordertype = order.get("ordertypeid")
    if ordertype != POS_ORDER_TYPE:
        return Skip(f"not a sale (ordertypeid {ordertype})")
    state = order.get("orderstateid")
    if state == ORDER_CANCELLED:
        return Skip("cancelled")
    if state == ORDER_ABANDONED:
        return Skip("abandoned")
    if state == ORDER_OPEN:
        return Skip("still open")
    if state != ORDER_CLOSED:
        return Skip(f"unknown order state {state}")
    if order.get("paymentstateid") in (PAYMENT_CANCELLED, PAYMENT_FAILED):
        return Skip("payment cancelled or failed")
    lines = _product_lines(order)
    if not lines:
        return Skip("no order lines")
    quantities = [int(i["quantity"]) for i in lines]
    if original_order_id(order) or all(q < 0 for q in quantities):
        return "refund"
    if any(q < 0 for q in quantities) and _money(order.get("moneytotal_gross_all")) < 0:
        return "refund"
    return "sale"


def plan(order: Mapping[str, Any], ref: OrderRef, rule: CustomerRule) -> Purchase | Skip:
    kind = classify(order)
    if isinstance(kind, Skip):
        return kind
    hard_id = resolve_hard_id(order, rule)
    if not hard_id:
        return Skip("no identifiable customer")
    return build_purchase(order, ref, rule, kind, hard_id)


def build_purchase(
    order: Mapping[str, Any], ref: OrderRef, rule: CustomerRule, kind: Kind, hard_id: str
) -> Purchase:
    data: Mapping[str, Any] = order.get("additionaldata") or {}
    purchase_id = str(ref.order_id)
    status = "success" if kind == "sale" else rule.refund_status
    currency = _str(order.get("currencycode"))
    timestamp = int(order.get("orderdate") or 0)
    customer_ids = {rule.hard_id_name: hard_id}
    lines = _product_lines(order)

    # What the store, register and staff were (spec §5.8: best read from additionaldata).
    origin: JsonObject = {
        "purchase_source_type": PURCHASE_SOURCE_TYPE,
        "purchase_source_name": _str(data.get("store-name")),
        "store_id": _str(data.get("store-externalid")),
        "register_id": _str(order.get("registerid")),
        "staff_id": _str(data.get("pos-staff-externalid")) or _str(order.get("userid_staff")),
        "receipt_id": _str(data.get("pos-receiptid")),
        "warehouse_id": _warehouse(order.get("warehouseid")),
        "eshop_id": ref.eshop_id,
        "local_currency": currency,
    }
    origin = {k: v for k, v in origin.items() if v not in ("", None)}

    products = [
        {"product_id": _product_id(i), "quantity": abs(int(i["quantity"]))}
        if _product_id(i)
        else {"quantity": abs(int(i["quantity"]))}
        for i in lines
    ]
    vouchers = list(
        dict.fromkeys(_str(i.get("vouchercode")) for i in lines if _str(i.get("vouchercode")))
    )
    discount = sum((_line_discount(i) for i in lines), Decimal(0))
    gross = _money(order.get("moneytotal_gross_all"))
    net = _money(order.get("moneyfinal_net"))
    vat = _money(order.get("moneyfinal_vat"))
    payments = [_str(p.get("name")) for p in order.get("payments") or [] if isinstance(p, Mapping)]
    purchase_props: JsonObject = {
        **origin,
        "purchase_id": purchase_id,
        "purchase_status": status,
        "total_price": _amount(gross),
        "total_price_local_currency": _amount(gross),
        "total_price_without_tax": _amount(net),
        "total_tax": _amount(vat),
        "total_quantity": sum(p["quantity"] for p in products),
        "product_list": products,
        "product_ids": [p["product_id"] for p in products if "product_id" in p],
        "payment_type": ", ".join(name for name in payments if name),
        "payment_types": [name for name in payments if name],
    }
    if discount:
        purchase_props["discount_value"] = _amount(discount)
    if vouchers:
        purchase_props["voucher_code"] = ", ".join(vouchers)
    original = original_order_id(order) if kind == "refund" else ""
    if original:
        purchase_props["original_purchase_id"] = original

    commands: list[JsonObject] = [
        _event(f"{ref.key}:purchase", customer_ids, "purchase", timestamp, purchase_props)
    ]
    for item in lines:
        quantity = abs(int(item["quantity"]))
        line_net = _money(item.get("moneyitemtotal_net"))
        line_vat = _money(item.get("moneyitemtotal_vat"))
        line_gross = abs(line_net) + abs(line_vat)
        item_data: Mapping[str, Any] = item.get("additionaldata") or {}
        props: JsonObject = {
            **origin,
            "purchase_id": purchase_id,
            "purchase_status": status,
            "product_id": _product_id(item),
            "sku": _str(item.get("sku")),
            "title": _str(item.get("productname")),
            "quantity": quantity,
            "price": _amount(line_gross / quantity),
            "price_without_tax": _amount(_money(item.get("moneynetpriceperunit"))),
            "total_price": _amount(line_gross),
            "total_price_local_currency": _amount(line_gross),
            "total_price_without_tax": _amount(line_net),
            "tax_rate": item.get("vatvalue"),
            "line_id": item.get("orderitemid"),
            # The offer the line used (issue 14). A refund's line carries it too, as a record
            # only: the redemption ledger changes through UndoRedeem alone, so a refund never
            # re-issues an offer behind the cashier's back.
            "promotion_id": _str(item_data.get("crm-promotionid")),
            "bonus_check_id": _str(item_data.get("crm-bonuscheckid")),
        }
        line_discount = _line_discount(item)
        if line_discount:
            unit_price = line_gross / quantity
            unit_discount = line_discount / quantity
            props["original_price"] = _amount(unit_price + unit_discount)
            props["discount_value"] = _amount(unit_discount)
            props["discount_percentage"] = float(
                (unit_discount / (unit_price + unit_discount) * 100).quantize(
                    _CENT, rounding=ROUND_HALF_UP
                )
            )
        voucher = _str(item.get("vouchercode"))
        if voucher:
            props["voucher_code"] = voucher
        if original:
            props["original_purchase_id"] = original
            original_line = _str(item_data.get("pos-originalsales-orderitemid"))
            if original_line:
                props["original_line_id"] = original_line
        props = {k: v for k, v in props.items() if v not in ("", None)}
        command_id = f"{ref.key}:item:{item.get('orderitemid')}"
        commands.append(_event(command_id, customer_ids, "purchase_item", timestamp, props))
    return Purchase(kind, purchase_id, hard_id, tuple(commands))


def _event(
    command_id: str,
    customer_ids: Mapping[str, str],
    event_type: str,
    timestamp: int,
    properties: JsonObject,
) -> JsonObject:
    return {
        "name": "customers/events",
        "command_id": command_id,
        "data": {
            "customer_ids": dict(customer_ids),
            "event_type": event_type,
            "timestamp": timestamp,
            "properties": properties,
        },
    }
