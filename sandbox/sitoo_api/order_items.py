"""An order's item rows, payments and log items as the server builds them from a write body:
the computed ids and the row totals."""

from __future__ import annotations

from decimal import Decimal

from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.field_checks import (
    JsonObject,
    Spec,
    as_list,
    as_object,
    check_fields,
    field_error,
    format_decimal,
    format_money,
    require_fields,
    string_map,
)
from sandbox.sitoo_api.order_specs import (
    ITEM_FIELDS,
    ITEM_WRITE,
    ITEM_WRITE_ONLY,
    LOG_WRITE,
    SALESTAX_WRITE,
)

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
    body = as_object(path.rstrip("."), raw)
    fields = check_fields(
        path, body, {**ITEM_WRITE, **ITEM_WRITE_ONLY}, extra=("additionaldata", "salestaxes")
    )
    require_fields(path, fields, "quantity")
    quantity: int = fields["quantity"]
    if quantity == 0:
        raise field_error(f"{path}quantity", "a non-zero integer")
    additional = string_map(f"{path}additionaldata", body.get("additionaldata"))
    salestaxes = [
        check_fields(
            f"{path}salestaxes[{i}].", as_object(f"{path}salestaxes[{i}]", tax), SALESTAX_WRITE
        )
        for i, tax in enumerate(as_list(f"{path}salestaxes", body.get("salestaxes")))
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
        require_fields(path, fields, "moneynetpriceperunit")
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


def build_payment(path: str, raw: object, spec: Spec, required: tuple[str, ...]) -> JsonObject:
    body = as_object(path.rstrip("."), raw)
    fields = check_fields(path, body, spec, extra=("additionaldata",))
    require_fields(path, fields, *required)
    fields["additionaldata"] = string_map(f"{path}additionaldata", body.get("additionaldata"))
    return fields


def build_log_item(path: str, raw: object, orderid: int, default_date: int) -> JsonObject:
    body = as_object(path.rstrip("."), raw)
    fields = check_fields(path, body, LOG_WRITE)
    require_fields(path, fields, "orderlogtypeid")
    return {
        "datelog": fields["datelog"] if fields["datelog"] is not None else default_date,
        "orderid": orderid,
        "orderlogtypeid": fields["orderlogtypeid"],
        "strvalue": fields["strvalue"],
        "fvalue": fields["fvalue"],
    }
