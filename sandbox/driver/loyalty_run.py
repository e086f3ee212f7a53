"""Playing the loyalty part of a store day (plan and expectations: :mod:`loyalty_plan`).

The Bloomreach scenario gives the offers first (:class:`~sandbox.bloomreach.offers.OfferTracker`,
Tracking API), then the cashiers open each member's card and follow each offer's script through
the CRM SPI (``POST …/redeem`` and ``…/undo-redeem``). Concurrent redemptions come from two
registers (their ``Register-ID`` headers differ). At the end every member's card is read once
more, so the outcome can compare the ``redeemed`` flags with the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from sandbox.bloomreach.offers import OfferTracker
from sandbox.driver.loyalty_plan import (
    OK,
    REFUSED,
    SCRIPT_CALLS,
    ExpectedOffer,
    LoyaltyOutcome,
    LoyaltyPlan,
    Op,
    PlannedOffer,
    RedeemCall,
)
from sandbox.driver.pos_client import Origin, PosClient, SpiResult
from sandbox.driver.store_plan import ScenarioError, StoreDayPlan

REGISTERS = ("{LOYALTY-REGISTER-A}", "{LOYALTY-REGISTER-B}")
STORE = "S200"  # when the POS client names no store


def _call(planned: PlannedOffer, op: Op, expected: int, result: SpiResult) -> RedeemCall:
    register = unquote(result.request_headers.get("Register-ID", ""))
    return RedeemCall(
        planned.offer.offer_id, op, expected, result.status, register, tuple(result.problems)
    )


def register(pos: PosClient, index: int) -> Origin:
    """The till: the store of the POS, register A or B (a retry is recognised by these)."""
    return Origin(
        store_id=pos.origin.store_id or STORE,
        staff_id=pos.origin.staff_id,
        register_id=REGISTERS[index],
    )


async def _one(
    pos: PosClient, customer_id: str, planned: PlannedOffer, op: Op, till: int
) -> SpiResult:
    items = [(planned.key, planned.offer.offer_id)]
    if op == "redeem":
        return await pos.redeem(customer_id, items, origin=register(pos, till))
    return await pos.undo_redeem(customer_id, items, origin=register(pos, till))


async def _play(pos: PosClient, customer_id: str, planned: PlannedOffer) -> list[RedeemCall]:
    steps = SCRIPT_CALLS[planned.script]
    if planned.script == "concurrent":
        results = await asyncio.gather(
            *(_one(pos, customer_id, planned, op, till) for op, _, till, _ in steps)
        )
        # One of the two wins, whichever it is: pair the statuses in order.
        ordered = sorted(results, key=lambda r: (r.status != OK, r.status))
        return [
            _call(planned, op, expected, result)
            for (op, expected, _, _), result in zip(steps, ordered, strict=True)
        ]
    return [
        _call(planned, op, expected, await _one(pos, customer_id, planned, op, till))
        for op, expected, till, _ in steps
    ]


async def give_offers(
    tracker: OfferTracker, plan: StoreDayPlan, loyalty: LoyaltyPlan, hard_id_name: str
) -> dict[str, dict[str, object]]:
    """The Bloomreach scenario: one offer event per planned offer; offer id -> body sent."""
    sent: dict[str, dict[str, object]] = {}
    for planned in loyalty.offers:
        customer = plan.customers[planned.customer]
        ids = {hard_id_name: customer.hard_id}
        sent[planned.offer.offer_id] = await tracker.give(ids, planned.offer, loyalty.given_at)
    return sent


@dataclass
class LoyaltyDay:
    """The loyalty part of one store day: who plays it and what it planned."""

    plan: StoreDayPlan
    loyalty: LoyaltyPlan
    pos: PosClient
    tracker: OfferTracker
    customer_ids: Sequence[str]
    hard_id_name: str = "registered"
    calls: list[RedeemCall] = field(default_factory=list)

    async def run(self) -> None:
        """Give the offers, open each member's card, play every offer's script."""
        await give_offers(self.tracker, self.plan, self.loyalty, self.hard_id_name)
        first = self.loyalty.members[0] if self.loyalty.members else None
        for member in self.loyalty.members:
            customer_id = self.customer_ids[member]
            card = await self.pos.get(customer_id)
            if not card.ok:
                raise ScenarioError(f"the card of {customer_id!r} could not be read: {card.status}")
            for planned in (o for o in self.loyalty.offers if o.customer == member):
                self.calls += await _play(self.pos, customer_id, planned)
            if member == first:
                unknown_id = self.loyalty.unknown_offer_id
                unknown = await self.pos.redeem(
                    customer_id, [("promotion_id", unknown_id)], origin=register(self.pos, 0)
                )
                self.calls.append(
                    RedeemCall(
                        unknown_id,
                        "redeem",
                        REFUSED,
                        unknown.status,
                        REGISTERS[0],
                        problems=unknown.problems,
                    )
                )

    async def outcome(self, orderids: Mapping[int, int]) -> LoyaltyOutcome:
        """The expected end of the loyalty part, with every member's card as it is now."""
        cards: dict[str, object] = {}
        for member in self.loyalty.members:
            result = await self.pos.get(self.customer_ids[member])
            cards[self.customer_ids[member]] = result.body if result.ok else None
        offers = []
        for planned in self.loyalty.offers:
            customer = self.plan.customers[planned.customer]
            where = self.loyalty.sold_on(planned)
            body = self.tracker.event({}, planned.offer)
            offers.append(
                ExpectedOffer(
                    hard_id=customer.hard_id,
                    customer_id=self.customer_ids[planned.customer],
                    kind=planned.offer.kind,
                    offer_id=planned.offer.offer_id,
                    script=planned.script,
                    event_type=str(body["event_type"]),
                    properties=body["properties"],
                    redeemed=planned.redeemed_at_end,
                    changes=planned.changes,
                    on_card=planned.script != "expired",
                    order_id=orderids[where[0]] if where else None,
                    line=where[1] if where else None,
                )
            )
        return LoyaltyOutcome(tuple(offers), tuple(self.calls), cards)


__all__ = ["REGISTERS", "LoyaltyDay", "give_offers"]
