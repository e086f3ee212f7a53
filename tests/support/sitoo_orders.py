"""Seeded random Sitoo POS sales, written the way the POS driver writes them.

Sales of 1-25 lines with every pricing form the emulator accepts: net unit prices, net prices
with an original price, Sitoo's row price, row discounts, free items (100 % off), percentage
and fixed-sum vouchers; VAT 0 / 6 / 7.5 / 12 / 25 %; one, split or gift-card payments.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sandbox.sitoo_api.orders import OrderLine, Payment, Voucher, gift_card, sale_order


def _money(rng: random.Random, low: int, high: int) -> str:
    return f"{Decimal(rng.randint(low * 100, high * 100)) / 100:.2f}"


def random_line(rng: random.Random, n: int) -> OrderLine:
    vat = rng.choice([0, 6, 12, 25, 25, 7.5])
    quantity = rng.randint(1, 5)
    kind = rng.choice(["net", "row", "row-discount", "voucher", "free", "net-original"])
    sku = f"SKU-{n}-{rng.randint(1, 999)}"
    if kind == "net":
        return OrderLine(sku, quantity, _money(rng, 1, 500), vat)
    if kind == "net-original":
        price = Decimal(_money(rng, 1, 300))
        return OrderLine(sku, quantity, price, vat, original_price_net=price + rng.randint(1, 50))
    row = _money(rng, 1, 2000)
    if kind == "row":
        return OrderLine(sku, quantity, vat=vat, row_price=row)
    if kind == "row-discount":
        return OrderLine(sku, quantity, vat=vat, row_price=row, row_discount=_money(rng, 0, 20))
    if kind == "free":
        return OrderLine(sku, quantity, vat=vat, row_price=row, row_discount=row)
    voucher = (
        Voucher(f"V{n}", rng.choice([5, 10, 25, 50]), percentage=True, voucherid=rng.randint(1, 9))
        if rng.random() < 0.5
        else Voucher(f"F{n}", rng.randint(1, 40), percentage=False, name="Fixed")
    )
    return OrderLine(sku, quantity, vat=vat, row_price=row, voucher=voucher)


def _payments(rng: random.Random) -> list[Payment] | None:
    choice = rng.choice(["default", "split", "giftcard"])
    if choice == "default":
        return None
    if choice == "split":
        return [Payment("Cash", "1.00"), Payment("Card")]
    return [gift_card(f"60{rng.randint(10**10, 10**11)}", "0.50"), Payment("Card")]


def random_sale(rng: random.Random) -> dict[str, Any]:
    lines = [random_line(rng, n) for n in range(rng.choice([1, 2, 3, 8, 25]))]
    return sale_order(
        lines,
        orderdate=1_700_000_000 + rng.randint(0, 10**6),
        customer_id=rng.choice([None, "anna@example.com"]),
        email=rng.choice(["", "bo@example.com"]),
        receipt_id=str(rng.randint(1, 99999)),
        store_external_id="S01",
        warehouseid=rng.choice([None, 1]),
        registerid=rng.choice([None, "{3CCB9848-155A-49E1-7CA8-5F7F78FC3067}"]),
        payments=_payments(rng),
    )
