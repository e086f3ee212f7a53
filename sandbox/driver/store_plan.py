"""The store day's plan: the data it draws from (products, names, the store) and
:func:`plan_store_day`, which turns a :class:`StoreDayConfig` into a deterministic
:class:`StoreDayPlan` (the seed fixes names, baskets, refund choices and the timeline)."""

from __future__ import annotations

import random
import string
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sandbox.sitoo_api.orders import Voucher

OrderKind = Literal["sale", "refund", "anonymous"]

_CENT = Decimal("0.01")
WHOLE_REFUND_SHARE = 0.5  # refunds returning every line of the sale, not some
MANUAL_ONLY_SHARE = 0.3
MANUAL_DISCOUNT_SHARE = 0.6


class ScenarioError(Exception):
    """The store day could not be played (edge or Sitoo API refused a step)."""


def money(value: Decimal) -> str:
    """Sitoo money string: 2 decimals, half-up, never ``-0.00``."""
    quantized = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if quantized == 0:
        quantized = abs(quantized)
    return f"{quantized:.2f}"


# --- static data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    productid: int
    sku: str
    name: str
    net_price: Decimal
    vat_percent: int = 25


CATALOGUE: tuple[Product, ...] = (
    Product(101, "83428-0", "Sofa Cosy", Decimal("799.20")),
    Product(102, "10001-1", "Mug Fika", Decimal("79.20")),
    Product(103, "10002-3", "Candle Björk", Decimal("39.60")),
    Product(104, "20417-2", "Blanket Åre", Decimal("399.20")),
    Product(105, "30022-9", "Cushion Öland", Decimal("159.20")),
    Product(106, "40100-5", "Lamp Kiruna", Decimal("639.20")),
    Product(107, "50002-7", "Vase Gotland", Decimal("239.20"), 12),
    Product(108, "60003-4", "Tea Towel", Decimal("47.20")),
)

_FIRST = ("Anna", "Björn", "Åsa", "Erik", "Märta", "Jörgen", "Lena", "Olle", "Sofia", "Zoë")
_LAST = ("Berg", "Öberg", "Lindqvist", "Ång", "Nilsson", "Sjöström", "Karlsson", "Holm")


@dataclass(frozen=True)
class StoreInfo:
    """The store the day happens in (ids as the POS writes them into the orders)."""

    store_externalid: str = "S200"
    store_name: str = "Göteborg Östra"
    warehouse_id: int = 3
    register_id: str = "{3CCB9848-7A4F-4D6B-9E55-1C0DE5A1B200}"
    register_serial: str = "SII0000001500001"
    staff_externalid: str = "staff-7"
    currency_code: str = "SEK"
    timezone: str = "Europe/Stockholm"


@dataclass(frozen=True)
class StoreDayConfig:
    customers: int = 5
    sales: int = 10  # identified sales
    refunds: int = 2  # refunds of identified sales (at most one per sale)
    anonymous: int = 3  # sales without a customer
    offline: int | None = None  # identified sales uploaded late; default ~ sales // 5
    seed: int = 0
    # Makes e-mails unique per run (re-running against the same edge must not collide).
    # ``None`` = derived from the seed and the current time; set it for a fully repeatable run.
    run_tag: str | None = None
    day_start: int | None = None  # Unix s; default: yesterday 08:00 UTC
    day_length_s: int = 12 * 3600
    close_events: bool = True  # follow each ``add`` with ``update`` + ``closed``
    # Share of sale lines with a manual row discount and / or a voucher (0 = none).
    discount_share: float = 0.35
    # False: do not create customers through the CRM SPI; the POS links each sale to the
    # customer id the customer path would answer (the hard ID, i.e. the lower-cased e-mail).
    # For testing the order path on its own; the caller seeds the customers in Bloomreach.
    create_customers_via_spi: bool = True
    # Members (customers with a sale) given a promotion and a bonus check to redeem (issue 14).
    loyalty_members: int = 0
    account_id: int = 1500
    site_id: int = 1
    store: StoreInfo = field(default_factory=StoreInfo)

    def __post_init__(self) -> None:
        for name in ("customers", "sales", "refunds", "anonymous", "loyalty_members"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.sales and not self.customers:
            raise ValueError("identified sales need at least one customer")
        if self.refunds > self.sales:
            raise ValueError("refunds cannot exceed identified sales (one refund per sale)")
        if self.offline is not None and not 0 <= self.offline <= max(self.sales - 1, 0):
            raise ValueError("offline must be between 0 and sales - 1")

    @property
    def offline_count(self) -> int:
        if self.offline is not None:
            return self.offline
        return max(1, self.sales // 5) if self.sales > 1 else 0


# --- plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCustomer:
    index: int
    body: Mapping[str, Any]  # the CRM SPI add-customer body

    @property
    def email(self) -> str:
        return str(self.body["email"])

    @property
    def hard_id(self) -> str:
        return self.email.lower()


#: Vouchers a cashier may scan (percentage or fixed gross sum off the line).
VOUCHERS: tuple[Voucher, ...] = (
    Voucher("SPRING10", 10, name="Spring 10 %", voucherid=11),
    Voucher("MEMBER25", 25, name="Member 25 %", voucherid=12),
    Voucher("FIKA20", 20, percentage=False, name="20 kr off", voucherid=13),
)


@dataclass(frozen=True)
class PlannedLine:
    """One line and the money Sitoo computes for it (the driver's own arithmetic, from the
    published ``addOrder`` / ``getOrder`` example: the row price is gross and before the row
    discount; net = (row price - discount) / (1 + VAT) to the cent; VAT = the rest)."""

    product: Product
    quantity: int  # signed: negative on refunds
    original_line: int | None = None  # refunds: index of the returned line in the original
    manual_discount: Decimal = Decimal(0)  # sales: gross row discount given at the till
    voucher: Voucher | None = None  # sales: a voucher on this line
    source: PlannedLine | None = None  # refunds: the sale line returned

    @property
    def rate(self) -> Decimal:
        return Decimal(self.product.vat_percent) / 100

    @property
    def gross_before(self) -> Decimal:
        """Sales: the row price before any discount (net list price x quantity + its VAT)."""
        net = self.product.net_price * self.quantity
        return net + Decimal(money(net * self.rate))

    @property
    def discount(self) -> Decimal:
        """The gross row discount (manual + voucher) on a sale line; a refund's share of it."""
        if self.source is not None:
            if -self.quantity == self.source.quantity:
                return self.source.discount
            unit_discount = self.source.original_unit - self.source.unit_net
            return Decimal(money(unit_discount * -self.quantity * (1 + self.rate)))
        voucher = self.voucher.discount(self.gross_before) if self.voucher else Decimal(0)
        return min(self.manual_discount + voucher, self.gross_before)

    @property
    def discounted(self) -> bool:
        return self.source is None and self.discount > 0

    @property
    def net(self) -> Decimal:
        if self.source is not None:
            if -self.quantity == self.source.quantity:  # a whole line mirrors the sale row
                return -self.source.net
            return self.source.unit_net * self.quantity  # part of a line: unit prices
        if not self.discounted:
            return self.product.net_price * self.quantity
        return Decimal(money((self.gross_before - self.discount) / (1 + self.rate)))

    @property
    def vat(self) -> Decimal:
        if self.source is not None and -self.quantity == self.source.quantity:
            return -self.source.vat
        if self.discounted:
            return self.gross_before - self.discount - self.net
        return Decimal(money(self.net * self.rate))

    @property
    def unit_net(self) -> Decimal:
        """``moneynetpriceperunit``: the net unit price after the discount (positive)."""
        if self.source is not None:
            return self.source.unit_net
        return Decimal(money(abs(self.net / self.quantity)))

    @property
    def original_unit(self) -> Decimal:
        """``moneyoriginalprice``: the net unit price before the discount."""
        if self.source is not None:
            return self.source.original_unit
        if not self.discounted:
            return self.product.net_price
        return Decimal(money(self.gross_before / (1 + self.rate) / self.quantity))


@dataclass(frozen=True)
class PlannedOrder:
    """One order in arrival (upload) order; ``position`` is its index in that sequence."""

    position: int
    kind: OrderKind
    lines: tuple[PlannedLine, ...]
    order_date: int  # when the sale happened (``orderdate``)
    arrival: int  # when it reached Sitoo (event_date of its events)
    customer: int | None = None  # index into the plan's customers
    refund_of: int | None = None  # position of the original sale
    offline: bool = False
    receipt_no: int = 0

    @property
    def total_net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal(0))

    @property
    def total_gross(self) -> Decimal:
        return self.total_net + self.total_vat


@dataclass(frozen=True)
class StoreDayPlan:
    config: StoreDayConfig
    run_tag: str
    customers: tuple[PlannedCustomer, ...]
    orders: tuple[PlannedOrder, ...]


def _ascii(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if c in string.ascii_letters + string.digits
    )


def default_day_start(now: float | None = None) -> int:
    """Yesterday 08:00 UTC: always in the past, stable within a day."""
    today = int(now if now is not None else time.time()) // 86400
    return (today - 1) * 86400 + 8 * 3600


def plan_store_day(config: StoreDayConfig) -> StoreDayPlan:
    """The deterministic plan of a store day (no I/O)."""
    rng = random.Random(config.seed)  # noqa: S311 - simulation, not crypto
    run_tag = config.run_tag
    if run_tag is None:
        run_tag = f"{config.seed:x}{random.SystemRandom().getrandbits(24):06x}"
    customers = tuple(_plan_customer(i, rng, run_tag) for i in range(config.customers))

    # Sales in random order: identified ("sale") and anonymous.
    sale: OrderKind = "sale"
    anonymous: OrderKind = "anonymous"
    kinds = [sale] * config.sales + [anonymous] * config.anonymous
    rng.shuffle(kinds)
    # Discounts draw from their own generator, so a seed's baskets and timeline stay the same.
    discounts = random.Random(f"discounts-{config.seed}")  # noqa: S311 - simulation
    sequence: list[dict[str, Any]] = []
    for kind in kinds:
        lines = tuple(
            _with_discount(PlannedLine(product, rng.randint(1, 3)), discounts, config)
            for product in rng.sample(CATALOGUE, rng.randint(1, 3))
        )
        customer = rng.randrange(config.customers) if kind == "sale" else None
        sequence.append({"kind": kind, "lines": lines, "customer": customer})

    # Refunds: distinct identified sales, each refunded somewhere after its upload.
    sale_slots = [i for i, s in enumerate(sequence) if s["kind"] == "sale"]
    targets = [sequence[i] for i in rng.sample(sale_slots, config.refunds)]
    for original in targets:
        orig_lines: tuple[PlannedLine, ...] = original["lines"]
        if rng.random() < WHOLE_REFUND_SHARE:
            chosen = list(enumerate(orig_lines))
            quantities = [line.quantity for _, line in chosen]
        else:
            index = rng.randrange(len(orig_lines))
            chosen = [(index, orig_lines[index])]
            quantities = [rng.randint(1, orig_lines[index].quantity)]
        refund_lines = tuple(
            PlannedLine(line.product, -qty, original_line=i, source=line)
            for (i, line), qty in zip(chosen, quantities, strict=True)
        )
        at = next(i for i, slot in enumerate(sequence) if slot is original)
        position = rng.randint(at + 1, len(sequence))
        sequence.insert(
            position,
            {
                "kind": "refund",
                "lines": refund_lines,
                "customer": original["customer"],
                "original": original,
            },
        )

    # Timeline: arrivals increase along the sequence.
    day_start = config.day_start if config.day_start is not None else default_day_start()
    step = max(config.day_length_s // (len(sequence) + 1), 10)
    arrivals = [day_start + (p + 1) * step + rng.randrange(step // 3) for p in range(len(sequence))]

    # Offline sales: uploaded at their slot, but sold before an order uploaded earlier.
    candidates = [p for p, s in enumerate(sequence) if s["kind"] == "sale" and p > 0]
    offline = set(rng.sample(candidates, min(config.offline_count, len(candidates))))

    positions = {id(s): p for p, s in enumerate(sequence)}
    orders: list[PlannedOrder] = []
    for p, slot in enumerate(sequence):
        order_date = arrivals[p]
        if p in offline:
            # Sold before an order that was uploaded earlier (and is not offline itself).
            online = [q for q in range(max(0, p - 3), p) if q not in offline]
            before = rng.choice(online) if online else max(q for q in range(p) if q not in offline)
            order_date = arrivals[before] - rng.randint(60, 600)
        refund_of = positions[id(slot["original"])] if slot["kind"] == "refund" else None
        orders.append(
            PlannedOrder(
                position=p,
                kind=slot["kind"],
                lines=slot["lines"],
                order_date=order_date,
                arrival=arrivals[p],
                customer=slot["customer"],
                refund_of=refund_of,
                offline=p in offline,
                receipt_no=10001 + p,
            )
        )
    return StoreDayPlan(config, run_tag, customers, tuple(orders))


def _with_discount(line: PlannedLine, rng: random.Random, config: StoreDayConfig) -> PlannedLine:
    """About ``discount_share`` of the lines get a manual discount, a voucher, or both."""
    if rng.random() >= config.discount_share:
        return line
    roll = rng.random()
    manual = Decimal(0)
    # Of the discounted lines: 30 % a manual discount only, 30 % both, 40 % a voucher only.
    if roll < MANUAL_DISCOUNT_SHARE:  # 10-30 % off by hand, in whole kronor
        manual = (line.gross_before * rng.choice([10, 20, 30]) / 100).quantize(Decimal(1))
    voucher = rng.choice(VOUCHERS) if roll >= MANUAL_ONLY_SHARE else None
    return PlannedLine(line.product, line.quantity, manual_discount=manual, voucher=voucher)


def _plan_customer(index: int, rng: random.Random, run_tag: str) -> PlannedCustomer:
    first = rng.choice(_FIRST)
    last = rng.choice(_LAST)
    local = f"{_ascii(first)}.{_ascii(last)}.{run_tag}.{index}"
    # Every third e-mail in mixed case: the hard ID must come out lower-cased.
    email = f"{local}@Example.com" if index % 3 == 0 else f"{local}@example.com".lower()
    body: dict[str, Any] = {
        "email": email,
        "name_first": first,
        "name_last": last,
        "mobile": f"+4670{rng.randrange(10**7):07d}",
        "invoice_address": {
            "address": f"Storgatan {rng.randint(1, 99)}",
            "city": "Göteborg",
            "zip": f"4{rng.randrange(10**4):04d}",
            "country_id": "SE",
        },
        "accepts_communication": ["email"] if index % 2 == 0 else [],
    }
    return PlannedCustomer(index, body)
