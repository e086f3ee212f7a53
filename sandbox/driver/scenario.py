"""A store day: customers, sales, refunds and anonymous sales, end to end.

:func:`plan_store_day` turns a :class:`StoreDayConfig` into a deterministic plan (the seed fixes
names, baskets, refund choices and the timeline). :func:`run_store_day` plays it:

1. creates the customers through the POS client (CRM SPI ``POST /customers``) on the edge;
2. posts the orders to the Sitoo REST API (``POST /v2/accounts/{account}/sites/{site}/orders.json``)
   in arrival order — identified sales carry ``additionaldata.crm-customerid``; refunds are new
   orders with negative quantities, ``creditorderid`` and ``pos-originalsales-orderid``; some
   sales are *offline*: uploaded after orders whose ``orderdate`` is later than theirs;
   Some sale lines carry a manual row discount or a voucher (percentage or fixed sum), written
   as Sitoo's ``addOrder`` example writes them: ``moneyrowprice`` (gross, before the discount)
   and ``moneyrowdiscount``; their refunds return what was paid;
3. queues the matching ``order`` events (``add``, then ``update``/``closed``) on the
   :class:`~sandbox.driver.webhooks.EventSender` and flushes it;
4. returns the :class:`ExpectedOutcome`: which purchases and refunds must land on which
   customer (hard ID = e-mail, lower-cased) and which orders must be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import aiohttp
from yarl import URL

from sandbox.driver.pos_client import PosClient, SpiConnectionError, SpiResult, basic_auth
from sandbox.driver.webhooks import EventSender, order_event
from sandbox.sitoo_api.orders import OrderLine, Voucher, refund_order, sale_order

OrderKind = Literal["sale", "refund", "anonymous"]

_CENT = Decimal("0.01")
_TEMPORARY = frozenset({0, 429, 502, 503, 504})  # 0 = POS timeout


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
    account_id: int = 1500
    site_id: int = 1
    store: StoreInfo = field(default_factory=StoreInfo)

    def __post_init__(self) -> None:
        for name in ("customers", "sales", "refunds", "anonymous"):
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
        if rng.random() < 0.5:
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
    if roll < 0.6:  # 10-30 % off by hand, in whole kronor
        manual = (line.gross_before * rng.choice([10, 20, 30]) / 100).quantize(Decimal(1))
    voucher = rng.choice(VOUCHERS) if roll >= 0.3 else None
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


# --- Sitoo REST API ------------------------------------------------------------------------


#: Attempts of :meth:`SitooOrdersClient.get_order`. A read of a fresh order fails when fewer
#: than two of them pass the fault layer: with the e2e tests' 30% injected ``503``s and one
#: not-found read that is ~1.6e-7 (6 attempts: ~1.1e-2, and the refund's read of its original
#: comes right after the original was added, before the relay has looked at it).
GET_ORDER_ATTEMPTS = 16
#: Cap of the exponential backoff between those attempts (a read that fails waits ~7 s).
GET_ORDER_MAX_DELAY_S = 0.5


class SitooOrdersClient:
    """The small part of the Sitoo REST API the driver needs: adding orders."""

    def __init__(
        self,
        base_url: str,
        account_id: int,
        api_id: str,
        password: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.authorization = basic_auth(api_id, password)
        self.timeout_s = timeout_s
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def orders_url(self, site_id: int) -> URL:
        return URL(f"{self.base_url}/v2/accounts/{self.account_id}/sites/{site_id}/orders.json")

    def order_url(self, site_id: int, orderid: int) -> URL:
        return URL(
            f"{self.base_url}/v2/accounts/{self.account_id}/sites/{site_id}/orders/{orderid}.json"
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization, "Accept": "application/json"}

    async def get_order(
        self, site_id: int, orderid: int, *, attempts: int = GET_ORDER_ATTEMPTS
    ) -> dict[str, Any]:
        """``GET …/orders/{orderid}.json``; a fresh order may ``404`` briefly, so retry.

        The budget must outlast the fault rates the tests give the emulator: a ``5xx`` the
        fault layer injects never reaches the store, so it does not use up the order's
        not-found read, and the read needs two answers that get past the faults. With 6
        attempts and 30% ``503``s that failed ~1 read in 90 (see :data:`GET_ORDER_ATTEMPTS`).
        """
        last = ""
        for attempt in range(attempts):
            try:
                async with self.session.get(
                    self.order_url(site_id, orderid),
                    headers=self._headers(),
                    timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                ) as response:
                    text = await response.text()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            else:
                if status == 200:
                    order = json.loads(text)
                    if not isinstance(order, dict):
                        raise ScenarioError(f"Sitoo API: order {orderid} is not an object")
                    return order
                last = f"{status} {text[:300]}"
                if status not in (404, 429) and status < 500:
                    break
            await asyncio.sleep(min(0.05 * 2**attempt, GET_ORDER_MAX_DELAY_S))
        raise ScenarioError(f"Sitoo API: get order {orderid} failed: {last}")

    async def add_order(self, site_id: int, body: Mapping[str, Any], *, attempts: int = 5) -> int:
        """``POST …/orders.json``; returns the new ``orderid``. Retries ``429`` / ``5xx``."""
        last = ""
        for attempt in range(attempts):
            try:
                async with self.session.post(
                    self.orders_url(site_id),
                    data=json.dumps(body).encode("utf-8"),
                    headers={**self._headers(), "Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                ) as response:
                    text = await response.text()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError) as exc:
                # A lost answer may have created the order; for a sandbox run we accept that.
                last = f"{exc.__class__.__name__}: {exc}"
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            if status == 200:
                try:
                    orderid = json.loads(text)
                except ValueError:
                    orderid = None
                if isinstance(orderid, int) and not isinstance(orderid, bool):
                    return orderid
                raise ScenarioError(f"Sitoo API: add order answered 200 with {text!r}")
            last = f"{status} {text[:300]}"
            if status != 429 and status < 500:
                break
            delay = 0.05 * 2**attempt
            if retry_after is not None:
                with contextlib.suppress(ValueError):
                    delay = min(float(retry_after), 5.0)
            await asyncio.sleep(delay)
        raise ScenarioError(f"Sitoo API: add order failed: {last}")


def sale_order_body(
    order: PlannedOrder,
    config: StoreDayConfig,
    customer_id: str | None,
    customer: PlannedCustomer | None,
    member_number: str | None = None,
) -> dict[str, Any]:
    """A POS sale (built with the emulator's :func:`sandbox.sitoo_api.orders.sale_order`)."""
    store = config.store
    identified = customer_id is not None and customer is not None
    return sale_order(
        [
            OrderLine(
                line.product.sku,
                line.quantity,
                money(line.product.net_price),
                line.product.vat_percent,
                name=line.product.name,
                product_id=line.product.productid,
                row_price=money(line.gross_before) if line.discounted else None,
                row_discount=money(line.manual_discount) if line.manual_discount else None,
                voucher=line.voucher,
            )
            for line in order.lines
        ],
        orderdate=order.order_date,
        customer_id=customer_id if identified else None,
        member_number=member_number if identified else None,
        email=customer.email if customer is not None and identified else "",
        namefirst=str(customer.body["name_first"]) if customer is not None and identified else "",
        namelast=str(customer.body["name_last"]) if customer is not None and identified else "",
        receipt_id=f"{store.register_serial}{order.receipt_no}",
        store_external_id=store.store_externalid,
        store_name=store.store_name,
        staff_external_id=store.staff_externalid,
        warehouseid=store.warehouse_id,
        registerid=store.register_id,
        currency=store.currency_code,
        additionaldata={"pos-timezone": store.timezone},
    )


def refund_order_body(
    order: PlannedOrder, config: StoreDayConfig, original: Mapping[str, Any]
) -> dict[str, Any]:
    """A validated POS return of ``original`` (the order as the Sitoo API returned it).

    Built with :func:`sandbox.sitoo_api.orders.refund_order`: negative quantities,
    ``creditorderid`` and ``pos-originalsales-orderid``, each line's
    ``pos-originalsales-orderitemid`` = the original line's ``orderitemid``; customer, store
    and staff references are inherited from the original.
    """
    items = original["orderitems"]
    lines = []
    for line in order.lines:
        assert line.original_line is not None
        lines.append((int(items[line.original_line]["orderitemid"]), -line.quantity))
    return refund_order(
        original,
        lines,
        orderdate=order.order_date,
        receipt_id=f"{config.store.register_serial}{order.receipt_no}",
        additionaldata={"pos-timezone": config.store.timezone},
    )


# --- expected outcome ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedItem:
    sku: str
    quantity: int  # negative on refunds
    net_price_per_unit: str
    vat_percent: int
    total_net: str = "0.00"  # signed money strings, as Sitoo computes the line
    total_gross: str = "0.00"
    discount: str = "0.00"  # gross discount on the line (positive)
    voucher_code: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "net_price_per_unit": self.net_price_per_unit,
            "vat_percent": self.vat_percent,
            "total_net": self.total_net,
            "total_gross": self.total_gross,
            "discount": self.discount,
            "voucher_code": self.voucher_code,
        }


@dataclass(frozen=True)
class ExpectedPurchase:
    """A purchase (``kind="sale"``) or refund that must reach the customer's profile."""

    order_id: int
    kind: Literal["sale", "refund"]
    hard_id: str  # the customer's e-mail, lower-cased
    customer_id: str  # as the edge returned it and the order carries it (crm-customerid)
    order_date: int
    total_net: str
    total_vat: str
    total_gross: str  # signed, money string
    items: tuple[ExpectedItem, ...]
    original_order_id: int | None = None
    offline: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "kind": self.kind,
            "hard_id": self.hard_id,
            "customer_id": self.customer_id,
            "order_date": self.order_date,
            "total_net": self.total_net,
            "total_vat": self.total_vat,
            "total_gross": self.total_gross,
            "items": [i.to_json() for i in self.items],
            "original_order_id": self.original_order_id,
            "offline": self.offline,
        }


@dataclass(frozen=True)
class ExpectedSkip:
    order_id: int
    reason: str  # "anonymous": no crm-customerid and no e-mail on the order
    order_date: int

    def to_json(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "reason": self.reason, "order_date": self.order_date}


@dataclass(frozen=True)
class ExpectedCustomer:
    hard_id: str
    customer_id: str
    email: str
    name_first: str
    name_last: str
    mobile: str

    def to_json(self) -> dict[str, Any]:
        return {
            "hard_id": self.hard_id,
            "customer_id": self.customer_id,
            "email": self.email,
            "name_first": self.name_first,
            "name_last": self.name_last,
            "mobile": self.mobile,
        }


@dataclass(frozen=True)
class ExpectedOutcome:
    """What the Bloomreach side must show after the store day."""

    seed: int
    run_tag: str
    account_id: int
    site_id: int
    customers: tuple[ExpectedCustomer, ...]
    purchases: tuple[ExpectedPurchase, ...]  # sales and refunds, in upload order
    skipped: tuple[ExpectedSkip, ...]
    event_ids: tuple[str, ...]
    delivery: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sales(self) -> tuple[ExpectedPurchase, ...]:
        return tuple(p for p in self.purchases if p.kind == "sale")

    @property
    def refunds(self) -> tuple[ExpectedPurchase, ...]:
        return tuple(p for p in self.purchases if p.kind == "refund")

    def by_customer(self) -> dict[str, list[ExpectedPurchase]]:
        """Hard ID → its purchases and refunds (every customer present, maybe empty)."""
        out: dict[str, list[ExpectedPurchase]] = {c.hard_id: [] for c in self.customers}
        for purchase in self.purchases:
            out.setdefault(purchase.hard_id, []).append(purchase)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "run_tag": self.run_tag,
            "account_id": self.account_id,
            "site_id": self.site_id,
            "customers": [c.to_json() for c in self.customers],
            "purchases": [p.to_json() for p in self.purchases],
            "skipped": [s.to_json() for s in self.skipped],
            "by_customer": {k: [p.order_id for p in v] for k, v in self.by_customer().items()},
            "event_ids": list(self.event_ids),
            "delivery": dict(self.delivery),
        }


# --- run -----------------------------------------------------------------------------------


async def create_customer(
    pos: PosClient, body: Mapping[str, Any], *, attempts: int = 4
) -> tuple[str, str | None]:
    """Add one customer like a cashier would (retrying a temporary failure).

    Returns the ``customer_id`` and ``member_number`` (if any) the edge answered with.
    """
    result: SpiResult | None = None
    for attempt in range(attempts):
        try:
            result = await pos.create(body)
        except SpiConnectionError as exc:
            raise ScenarioError(f"edge unreachable: {exc}") from exc
        if result.status not in _TEMPORARY:
            break
        await asyncio.sleep(0.05 * 2**attempt)
    assert result is not None
    customer_id = result.body.get("customer_id") if isinstance(result.body, dict) else None
    if result.status != 200 or not isinstance(customer_id, str):
        raise ScenarioError(
            f"add customer {body.get('email')!r} failed: status {result.status}, "
            f"body {result.text[:300]!r}"
        )
    member = result.body.get("member_number")
    return customer_id, member if isinstance(member, str) and member else None


async def run_store_day(
    config: StoreDayConfig,
    pos: PosClient | None,
    sitoo: SitooOrdersClient,
    sender: EventSender,
    *,
    plan: StoreDayPlan | None = None,
) -> ExpectedOutcome:
    """Play the day; see the module docstring. Events are flushed before returning."""
    plan = plan or plan_store_day(config)
    ids: list[str] = []
    member_numbers: list[str | None] = []
    for planned in plan.customers:
        if config.create_customers_via_spi:
            if pos is None:
                raise ScenarioError("creating customers through the SPI needs a PosClient")
            new_id, member_number = await create_customer(pos, planned.body)
        else:
            new_id, member_number = planned.hard_id, None
        ids.append(new_id)
        member_numbers.append(member_number)

    orderids: dict[int, int] = {}
    purchases: list[ExpectedPurchase] = []
    skipped: list[ExpectedSkip] = []
    event_ids: list[str] = []
    for order in plan.orders:
        customer = plan.customers[order.customer] if order.customer is not None else None
        customer_id = ids[order.customer] if order.customer is not None else None
        member = member_numbers[order.customer] if order.customer is not None else None
        if order.kind == "refund":
            assert order.refund_of is not None
            original = orderids[order.refund_of]
            # Like "Refund Historic Purchase": the POS loads the original, then returns lines.
            source = await sitoo.get_order(config.site_id, original)
            body = refund_order_body(order, config, source)
        else:
            original = None
            body = sale_order_body(order, config, customer_id, customer, member)
        orderid = await sitoo.add_order(config.site_id, body)
        orderids[order.position] = orderid

        if order.kind == "anonymous":
            skipped.append(ExpectedSkip(orderid, "anonymous", order.order_date))
        else:
            assert customer is not None and customer_id is not None
            purchases.append(
                ExpectedPurchase(
                    order_id=orderid,
                    kind="refund" if order.kind == "refund" else "sale",
                    hard_id=customer.hard_id,
                    customer_id=customer_id,
                    order_date=order.order_date,
                    total_net=money(order.total_net),
                    total_vat=money(order.total_vat),
                    total_gross=money(order.total_gross),
                    items=tuple(
                        ExpectedItem(
                            line.product.sku,
                            line.quantity,
                            money(line.unit_net),
                            line.product.vat_percent,
                            total_net=money(line.net),
                            total_gross=money(line.net + line.vat),
                            discount=money(line.discount),
                            voucher_code=_voucher_of(line),
                        )
                        for line in order.lines
                    ),
                    original_order_id=original,
                    offline=order.offline,
                )
            )

        events = [
            order_event(
                account_id=config.account_id,
                eshop_id=config.site_id,
                order_id=orderid,
                warehouse_id=config.store.warehouse_id,
                event_date=order.arrival,
                order_event_type="add",
            )
        ]
        if config.close_events:
            events.append(
                order_event(
                    account_id=config.account_id,
                    eshop_id=config.site_id,
                    order_id=orderid,
                    warehouse_id=config.store.warehouse_id,
                    event_date=order.arrival + 1,
                    order_event_type="update",
                    order_state_changed="closed",
                )
            )
        sender.enqueue(*events)
        event_ids.extend(e.event_id for e in events)

    await sender.flush()
    customers = tuple(
        ExpectedCustomer(
            hard_id=c.hard_id,
            customer_id=ids[c.index],
            email=c.email,
            name_first=str(c.body["name_first"]),
            name_last=str(c.body["name_last"]),
            mobile=str(c.body["mobile"]),
        )
        for c in plan.customers
    )
    return ExpectedOutcome(
        seed=config.seed,
        run_tag=plan.run_tag,
        account_id=config.account_id,
        site_id=config.site_id,
        customers=customers,
        purchases=tuple(purchases),
        skipped=tuple(skipped),
        event_ids=tuple(event_ids),
        delivery=sender.summary(),
    )


def _voucher_of(line: PlannedLine) -> str:
    sold = line.source if line.source is not None else line
    return sold.voucher.code if sold.voucher is not None else ""


def summarize(outcome: ExpectedOutcome) -> dict[str, Any]:
    return {
        "customers": len(outcome.customers),
        "sales": len(outcome.sales),
        "refunds": len(outcome.refunds),
        "skipped": len(outcome.skipped),
        "offline": sum(p.offline for p in outcome.purchases),
        "events": len(outcome.event_ids),
    }


__all__: Sequence[str] = (
    "CATALOGUE",
    "ExpectedCustomer",
    "ExpectedItem",
    "ExpectedOutcome",
    "ExpectedPurchase",
    "ExpectedSkip",
    "PlannedOrder",
    "ScenarioError",
    "SitooOrdersClient",
    "StoreDayConfig",
    "StoreDayPlan",
    "StoreInfo",
    "plan_store_day",
    "refund_order_body",
    "run_store_day",
    "sale_order_body",
    "summarize",
)
