"""Members redeeming offers during the store day (issue 14): the plan and what it must leave.

A Bloomreach scenario gives some members a promotion and a bonus check (customer events,
:mod:`sandbox.bloomreach.offers`). At the till each offer then follows one *script*:

* ``once`` — redeemed (200), and the sale carries it;
* ``twice`` — redeemed (200), redeemed again (400: already redeemed), the sale carries it;
* ``concurrent`` — two registers redeem it at the same moment: one 200, one 400; sold;
* ``undone`` — redeemed (200), taken out of the cart (undo 200), undone again (400: not
  redeemed); not sold, redeemable at the end;
* ``undone_again`` — redeemed, undone, redeemed again (all 200); sold.

Besides, one member's cashier tries an id nobody has (400). Expected statuses are Sitoo's
contract as the driver reads it (``sitoo_contract.REDEEM_TWICE_STATUS``, CRM spec §5.7/§5.8).
A sold offer sits on one line of one of the member's sales, in the item's ``additionaldata``
(``crm-promotionid`` / ``crm-bonuscheckid``, spec §9).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from sandbox.bloomreach.offers import Offer
from sandbox.driver.sitoo_contract import (
    ORDER_ITEM_BONUS_CHECK_KEY,
    ORDER_ITEM_PROMOTION_KEY,
    REDEEM_TWICE_STATUS,
)
from sandbox.driver.store_plan import StoreDayPlan

Script = Literal["once", "twice", "concurrent", "undone", "undone_again"]
SCRIPTS: tuple[Script, ...] = ("once", "twice", "concurrent", "undone", "undone_again")
Op = Literal["redeem", "undo"]
OK = int(HTTPStatus.OK)
REFUSED = REDEEM_TWICE_STATUS
#: Each script's calls in order, with the status each must get. ``concurrent`` is the two
#: calls sent together: their statuses in any order.
SCRIPT_CALLS: Mapping[Script, tuple[tuple[Op, int], ...]] = {
    "once": (("redeem", OK),),
    "twice": (("redeem", OK), ("redeem", REFUSED)),
    "concurrent": (("redeem", OK), ("redeem", REFUSED)),
    "undone": (("redeem", OK), ("undo", OK), ("undo", REFUSED)),
    "undone_again": (("redeem", OK), ("undo", OK), ("redeem", OK)),
}
#: Offers stay valid 30 days after the day starts.
VALID_DAYS = 30
_NAMESPACE = uuid.UUID("5f0c4f7e-6a43-4d8e-9a51-3c3b0f2a1e77")


@dataclass(frozen=True)
class PlannedOffer:
    customer: int  # index into the plan's customers
    offer: Offer
    script: Script

    @property
    def key(self) -> str:
        """The redeem item key (and card list) of this offer."""
        return "promotion_id" if self.offer.kind == "promotion" else "bonus_check_id"

    @property
    def order_item_key(self) -> str:
        if self.offer.kind == "promotion":
            return ORDER_ITEM_PROMOTION_KEY
        return ORDER_ITEM_BONUS_CHECK_KEY

    @property
    def redeemed_at_end(self) -> bool:
        return self.script != "undone"

    @property
    def successes(self) -> tuple[Op, ...]:
        """The calls that must succeed, in order (what the middleware tracks back)."""
        return tuple(op for op, status in SCRIPT_CALLS[self.script] if status == OK)


@dataclass(frozen=True)
class LoyaltyPlan:
    offers: tuple[PlannedOffer, ...]
    unknown_offer_id: str  # redeemed by the first member: no one has it
    given_at: int  # when the Bloomreach scenario gave the offers (event timestamp)
    #: order position -> line index -> the line's additionaldata (the offer it used)
    sold: Mapping[int, Mapping[int, Mapping[str, str]]] = field(default_factory=dict)

    @property
    def members(self) -> tuple[int, ...]:
        return tuple(sorted({o.customer for o in self.offers}))

    def sold_on(self, offer: PlannedOffer) -> tuple[int, int] | None:
        """(order position, line index) of the sale line that used the offer."""
        for position, lines in self.sold.items():
            for index, data in lines.items():
                if data.get(offer.order_item_key) == offer.offer.offer_id:
                    return position, index
        return None


def plan_loyalty(plan: StoreDayPlan, members: int) -> LoyaltyPlan:
    """Up to ``members`` customers with at least one sale each get a promotion and a bonus
    check; the scripts go round the offers in :data:`SCRIPTS` order (deterministic per seed)."""
    rng = random.Random(f"loyalty-{plan.config.seed}")  # noqa: S311 - simulation
    with_sales = sorted(
        {o.customer for o in plan.orders if o.kind == "sale" and o.customer is not None}
    )
    chosen = sorted(rng.sample(with_sales, min(members, len(with_sales))))
    day_start = min((o.order_date for o in plan.orders), default=0)
    valid_until = day_start + VALID_DAYS * 86400
    currency = plan.config.store.currency_code
    offers: list[PlannedOffer] = []
    for customer in chosen:
        for kind in ("promotion", "bonus_check"):
            number = len(offers)
            offer_id = str(uuid.uuid5(_NAMESPACE, f"{plan.run_tag}/{number}"))
            if kind == "promotion":
                percent = rng.choice([10, 15, 20])
                offer = Offer(
                    "promotion",
                    offer_id,
                    f"{percent}% off",
                    valid_until=valid_until,
                    type="cart_percent",
                    value=percent,
                )
            else:
                amount = rng.choice(["50.00", "100.00"])
                offer = Offer(
                    "bonus_check",
                    offer_id,
                    f"Bonus check {amount} {currency}",
                    valid_until=valid_until,
                    amount=amount,
                    currency=currency,
                )
            offers.append(PlannedOffer(customer, offer, SCRIPTS[number % len(SCRIPTS)]))
    unknown = str(uuid.uuid5(_NAMESPACE, f"{plan.run_tag}/unknown"))
    given_at = day_start - 3600
    return LoyaltyPlan(tuple(offers), unknown, given_at, _sold(plan, offers))


def _sold(plan: StoreDayPlan, offers: list[PlannedOffer]) -> dict[int, dict[int, dict[str, str]]]:
    """Each offer redeemed at the end goes on the first line of the member's sales that does
    not use an offer of its kind yet (a line carries at most one promotion and one bonus
    check). Refunds are planned independently and may return such a line."""
    sold: dict[int, dict[int, dict[str, str]]] = {}
    for planned in offers:
        if not planned.redeemed_at_end:
            continue
        slots = (
            (order.position, index)
            for order in plan.orders
            if order.kind == "sale" and order.customer == planned.customer
            for index in range(len(order.lines))
        )
        for position, index in slots:
            data = sold.setdefault(position, {}).setdefault(index, {})
            if planned.order_item_key not in data:
                data[planned.order_item_key] = planned.offer.offer_id
                break
    return sold


# --- what the day must leave ---------------------------------------------------------------


@dataclass(frozen=True)
class RedeemCall:
    """One Redeem / Undo Redeem the POS made, with the status it had to get."""

    offer_id: str
    op: Op
    expected: int
    status: int
    register: str = ""
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "op": self.op,
            "expected": self.expected,
            "status": self.status,
            "register": self.register,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ExpectedOffer:
    """One offer at the end of the day: the customer card's ``redeemed`` and the order line
    that used it; the middleware's redemption events are ``successes`` in this order."""

    hard_id: str
    customer_id: str
    kind: str  # promotion | bonus_check
    offer_id: str
    script: Script
    event_type: str  # the offer event the Bloomreach scenario tracked
    properties: Mapping[str, Any]  # ... with exactly these properties
    redeemed: bool
    successes: tuple[Op, ...]
    order_id: int | None = None  # the Sitoo order whose line used it
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "hard_id": self.hard_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "offer_id": self.offer_id,
            "script": self.script,
            "event_type": self.event_type,
            "properties": dict(self.properties),
            "redeemed": self.redeemed,
            "successes": list(self.successes),
            "order_id": self.order_id,
            "line": self.line,
        }


@dataclass(frozen=True)
class LoyaltyOutcome:
    offers: tuple[ExpectedOffer, ...]
    calls: tuple[RedeemCall, ...]
    cards: Mapping[str, Any] = field(default_factory=dict)  # customer_id -> final card

    def mismatches(self) -> list[str]:
        """Calls that got another status than they had to, or an answer off the contract;
        cards whose ``redeemed`` flags differ from the plan."""
        found = [
            f"{c.op} {c.offer_id} ({c.register or 'till'}): {c.status}, expected {c.expected}"
            for c in self.calls
            if c.status != c.expected
        ]
        found += [f"{c.op} {c.offer_id}: {p}" for c in self.calls for p in c.problems]
        for offer in self.offers:
            card = self.cards.get(offer.customer_id)
            listed = card.get(f"{offer.kind}s", []) if isinstance(card, dict) else []
            flags = [
                o.get("redeemed") for o in listed if o.get(offer.kind + "_id") == offer.offer_id
            ]
            if flags != [offer.redeemed]:
                found.append(f"card of {offer.customer_id}: {offer.offer_id} {flags}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "offers": [o.to_json() for o in self.offers],
            "calls": [c.to_json() for c in self.calls],
            "mismatches": self.mismatches(),
        }
