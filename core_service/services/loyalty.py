"""Loyalty offers on the customer card, and Redeem / Undo Redeem (issue 14).

The offers are the customer's offer events in Bloomreach, read with ONE events export per card
(the customer service makes that call beside the card's attributes read, under the same
deadline and call gate); this service parses them, drops the expired and marks what the
redemption ledger holds. A redeem or undo is decided by the ledger alone: its rows and the
Bloomreach events that report them commit together (outbox), so the till's answer never waits
for Bloomreach's write path, and the relay delivers each change exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core_service.domain.customer import Origin
from core_service.domain.integration import Integration
from core_service.domain.loyalty import (
    MAX_OFFER_EVENTS,
    RETRY_WINDOW_SECONDS,
    Action,
    EventContext,
    Item,
    LedgerChange,
    Offer,
    OfferSet,
    Redemption,
    call_fingerprint,
    check_offered,
    checked_items,
    ledger_events,
    offers_from_events,
    with_ledger,
)
from core_service.services.ports import LoyaltyLedger

Events = Sequence[Mapping[str, Any]]


class LoyaltyService:
    def __init__(
        self,
        ledger: LoyaltyLedger,
        *,
        clock: Callable[[], float] = time.time,
        retry_window_s: float = RETRY_WINDOW_SECONDS,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._retry_window_s = retry_window_s

    @staticmethod
    def export(integration: Integration) -> tuple[tuple[str, ...], int]:
        """The event types and limit of the card's one export (no types: no call)."""
        return integration.loyalty.event_types, MAX_OFFER_EVENTS

    def _offers(self, integration: Integration, events: Events) -> OfferSet:
        return offers_from_events(events, integration.loyalty, self._clock())

    async def card(
        self, integration: Integration, customer_id: str, events: Events
    ) -> tuple[Offer, ...]:
        """The card's promotions and bonus checks, ``redeemed`` from the ledger."""
        offers = self._offers(integration, events)
        if not offers.offers:
            return ()
        redeemed = await self._ledger.redeemed(integration.id, customer_id)
        return with_ledger(offers, redeemed)

    async def refresh(
        self, integration: Integration, customer_id: str, offers: tuple[Offer, ...]
    ) -> tuple[Offer, ...]:
        """A cached card's offers as the card would show them now: expired ones dropped,
        ``redeemed`` from the ledger (the ledger is ours, so it answers while Bloomreach is
        down; a redemption made after the card was cached shows)."""
        now = self._clock()
        live = tuple(o for o in offers if o.valid_until is None or o.valid_until > now)
        if not live:
            return ()
        redeemed = await self._ledger.redeemed(integration.id, customer_id)
        return with_ledger(OfferSet(live), redeemed)

    async def change(
        self,
        integration: Integration,
        customer_id: str,
        items: Sequence[Item],
        *,
        action: Action,
        origin: Origin,
        events: Events,
    ) -> tuple[Offer, ...]:
        """Redeem or undo every item or none; the card's offers afterwards."""
        checked = checked_items(items)
        offers = self._offers(integration, events)
        if action == "redeem":
            check_offered(checked, offers)
        context = EventContext(
            hard_id_name=integration.hard_id_name,
            customer_key=self._ledger.customer_key(integration.id, customer_id),
            origin=origin,
            offers=offers.by_key(),
        )

        def commands(changes: Sequence[LedgerChange]) -> list[dict[str, Any]]:
            return ledger_events(context, customer_id, changes, action)

        redemption = Redemption(
            integration_id=integration.id,
            customer_id=customer_id,
            action=action,
            items=checked,
            fingerprint=call_fingerprint(action, checked, origin),
            now=self._clock(),
            retry_window_s=self._retry_window_s,
        )
        await self._ledger.apply(redemption, commands)
        redeemed = await self._ledger.redeemed(integration.id, customer_id)
        return with_ledger(offers, redeemed)
