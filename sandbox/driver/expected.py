"""What a played store day must leave in Bloomreach: purchases and refunds per customer (hard
ID = e-mail, lower-cased) and the orders that must be skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sandbox.driver.loyalty_plan import LoyaltyOutcome

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
    # Members' offers and redemptions (StoreDayConfig.loyalty_members > 0), else None.
    loyalty: LoyaltyOutcome | None = None

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
            "loyalty": self.loyalty.to_json() if self.loyalty is not None else None,
        }
