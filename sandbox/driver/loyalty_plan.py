"""Members redeeming offers during the store day (issue 14): the plan and what it must leave.

A Bloomreach scenario gives some members a promotion and a bonus check (customer events,
:mod:`sandbox.bloomreach.offers`). At the till each offer then follows one *script*; calls come
from register A unless said otherwise:

* ``once`` — redeemed (200), and the sale carries it;
* ``twice`` — redeemed (200), then used again at register B (400: already redeemed); sold;
* ``retried`` — redeemed, and the POS sends the same call again from the same register (a
  retry after a lost answer: 200 again, and nothing changes); sold;
* ``concurrent`` — registers A and B redeem it at the same moment: one 200, one 400; sold;
* ``undone`` — redeemed (200), taken out of the cart (undo 200), undone again at register B
  (400: not redeemed); not sold, redeemable at the end;
* ``undone_again`` — redeemed, undone, redeemed again at register B (all 200); sold.

The first member also has an ``expired`` promotion (``valid_until`` before the day): it is not
on the card and redeeming it is a 400; and their cashier tries an id nobody has (400).
Expected statuses are Sitoo's contract as the driver reads it (CRM spec §5.7/§5.8; a POS
retry is answered like the first call). A sold offer sits on one line of one of the member's
sales, in the item's ``additionaldata`` (``crm-promotionid`` / ``crm-bonuscheckid``, spec §9).
Every change of an offer (not a retry, not a refusal) is tracked back to Bloomreach by the
middleware as an event of its own (:attr:`ExpectedOffer.redemption_events`).
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

Script = Literal["once", "twice", "retried", "concurrent", "undone", "undone_again", "expired"]
#: The scripts the members' offers go round; ``expired`` is the first member's extra offer.
SCRIPTS: tuple[Script, ...] = (
    "once",
    "twice",
    "retried",
    "concurrent",
    "undone",
    "undone_again",
)
Op = Literal["redeem", "undo"]
OK = int(HTTPStatus.OK)
REFUSED = REDEEM_TWICE_STATUS
#: Each script's calls in order: operation, the status it must get, register (0 = A, 1 = B),
#: and whether it changes the offer. ``concurrent`` is its two calls sent together: their
#: statuses in any order.
SCRIPT_CALLS: Mapping[Script, tuple[tuple[Op, int, int, bool], ...]] = {
    "once": (("redeem", OK, 0, True),),
    "twice": (("redeem", OK, 0, True), ("redeem", REFUSED, 1, False)),
    "retried": (("redeem", OK, 0, True), ("redeem", OK, 0, False)),
    "concurrent": (("redeem", OK, 0, True), ("redeem", REFUSED, 1, False)),
    "undone": (("redeem", OK, 0, True), ("undo", OK, 0, True), ("undo", REFUSED, 1, False)),
    "undone_again": (("redeem", OK, 0, True), ("undo", OK, 0, True), ("redeem", OK, 1, True)),
    "expired": (("redeem", REFUSED, 0, False),),
}
#: The middleware's redemption event types (loyalty-core's choice, issue 14).
REDEMPTION_EVENT_TYPES: Mapping[tuple[str, Op], str] = {
    ("promotion", "redeem"): "sitoo_promotion_redeemed",
    ("promotion", "undo"): "sitoo_promotion_undone",
    ("bonus_check", "redeem"): "sitoo_bonus_check_redeemed",
    ("bonus_check", "undo"): "sitoo_bonus_check_undone",
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
        return self.script not in ("undone", "expired")

    @property
    def changes(self) -> tuple[Op, ...]:
        """The calls that change the offer, in order (what the middleware tracks back)."""
        return tuple(op for op, _, _, change in SCRIPT_CALLS[self.script] if change)


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
    if chosen:
        expired_id = str(uuid.uuid5(_NAMESPACE, f"{plan.run_tag}/expired"))
        expired = Offer(
            "promotion",
            expired_id,
            "Last month's 30% off",
            valid_until=day_start - 86400,
            type="cart_percent",
            value=30,
        )
        offers.append(PlannedOffer(chosen[0], expired, "expired"))
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
    """One offer at the end of the day: on the card or not (expired), the card's ``redeemed``,
    the order line that used it, and the changes the middleware tracks back, in order."""

    hard_id: str
    customer_id: str
    kind: str  # promotion | bonus_check
    offer_id: str
    script: Script
    event_type: str  # the offer event the Bloomreach scenario tracked
    properties: Mapping[str, Any]  # ... with exactly these properties
    redeemed: bool
    changes: tuple[Op, ...]
    on_card: bool = True
    order_id: int | None = None  # the Sitoo order whose line used it
    line: int | None = None

    @property
    def redemption_events(self) -> list[dict[str, Any]]:
        """The Bloomreach events the middleware tracks for this offer, oldest first: type
        and the properties that identify the change (``ledger_version`` counts from 1)."""
        return [
            {
                "event_type": REDEMPTION_EVENT_TYPES[self.kind, op],
                f"{self.kind}_id": self.offer_id,
                "action": op,
                "ledger_version": version,
            }
            for version, op in enumerate(self.changes, 1)
        ]

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
            "changes": list(self.changes),
            "on_card": self.on_card,
            "redemption_events": self.redemption_events,
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
            if flags != ([offer.redeemed] if offer.on_card else []):
                found.append(f"card of {offer.customer_id}: {offer.offer_id} {flags}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "offers": [o.to_json() for o in self.offers],
            "calls": [c.to_json() for c in self.calls],
            "mismatches": self.mismatches(),
        }
