"""Loyalty offers on the customer card, and Redeem / Undo Redeem, for the customer service
(issue 14). A mixin of ``CustomerService``: the attributes read and the events export are its
own (same deadline, call gate and error mapping); the rules are ``services/loyalty.py``'s.

A card makes at most one extra Bloomreach call, the offers' events export, beside its read;
search makes it only when the integration says so. With the offer-count gate configured
(``LoyaltyConfig.gate_aggregates``) the read also fetches the offer counts and the export
follows it only when a count says there may be offers (``needs_export``): one call for a
customer without offers, two in a row for one with them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from core_service.domain.customer import Customer, Origin
from core_service.domain.errors import DomainError, StorageError, UpstreamMisconfigured
from core_service.domain.integration import Integration
from core_service.domain.loyalty import Action, Item
from core_service.domain.loyalty_config import needs_export
from core_service.domain.mapping import CustomerMapping, Snapshot
from core_service.services.deadline import Deadline
from core_service.services.loyalty import LoyaltyService

log = logging.getLogger(__name__)
T = TypeVar("T")


class CustomerOffers:
    _loyalty: LoyaltyService | None

    if TYPE_CHECKING:  # CustomerService's

        def mapping(self, integration: Integration) -> CustomerMapping: ...

        async def _existing(
            self,
            integration: Integration,
            mapping: CustomerMapping,
            customer_id: str,
            deadline: Deadline,
        ) -> Snapshot: ...

        async def _events(
            self,
            integration: Integration,
            customer_ids: dict[str, str],
            event_types: Sequence[str],
            limit: int,
            deadline: Deadline,
        ) -> list[dict[str, Any]] | None: ...

    async def _current_offers(self, integration: Integration, card: Customer) -> Customer:
        """Offers kept with the card, as they stand now (expired dropped, ``redeemed`` from
        the ledger); none when the ledger cannot be read or loyalty is off."""
        if not card.offers:
            return card
        if self._loyalty is None or not integration.loyalty.enabled:
            return replace(card, offers=())
        try:
            offers = await self._loyalty.refresh(integration, card.customer_id, card.offers)
        except StorageError:
            offers = ()
        return replace(card, offers=offers)

    async def _card_with_offers(
        self,
        integration: Integration,
        mapping: CustomerMapping,
        customer_id: str,
        deadline: Deadline,
    ) -> Customer:
        assert self._loyalty is not None
        if mapping.offer_gate:
            snap = await self._existing(integration, mapping, customer_id, deadline)
            return await self._with_offers(
                integration, mapping, mapping.customer(snap), deadline, snap
            )
        ids = mapping.customer_ids(customer_id)
        snap, events = await _both(
            self._existing(integration, mapping, customer_id, deadline),
            self._offer_events(integration, ids, deadline, card=True),
        )
        offers = await self._loyalty.card(integration, ids[mapping.hard_id_name], events)
        return replace(mapping.customer(snap), offers=offers)

    async def redeem(
        self,
        integration: Integration,
        customer_id: str,
        *,
        items: Sequence[Item],
        action: Action,
        origin: Origin,
        deadline: Deadline,
    ) -> Customer:
        """Redeem or undo offers (services/loyalty.py); the card afterwards."""
        if self._loyalty is None:
            raise UpstreamMisconfigured("loyalty is not available on this core")
        mapping = self.mapping(integration)
        ids = mapping.customer_ids(customer_id)
        snap, events = await _both(
            self._existing(integration, mapping, customer_id, deadline),
            self._offer_events(integration, ids, deadline),
        )
        offers = await self._loyalty.change(
            integration,
            ids[mapping.hard_id_name],
            items,
            action=action,
            origin=origin,
            events=events,
        )
        return replace(mapping.customer(snap), offers=offers)

    async def _with_offers(
        self,
        integration: Integration,
        mapping: CustomerMapping,
        customer: Customer,
        deadline: Deadline,
        snap: Snapshot,
    ) -> Customer:
        """The offers after the customer's read (``snap``): no call when the offer-count gate
        says the customer has none."""
        assert self._loyalty is not None
        counts = (snap.analyses.get(("aggregate", a)) for a in mapping.offer_gate)
        if mapping.offer_gate and not needs_export(counts):
            return replace(customer, offers=())
        ids = mapping.customer_ids(customer.customer_id)
        events = await self._offer_events(integration, ids, deadline, card=True)
        offers = await self._loyalty.card(integration, ids[mapping.hard_id_name], events)
        return replace(customer, offers=offers)

    async def _offer_events(
        self,
        integration: Integration,
        customer_ids: dict[str, str],
        deadline: Deadline,
        *,
        card: bool = False,
    ) -> list[dict[str, Any]]:
        """The offer events. For a card (``card``), a failed read leaves the card without
        offers rather than failing it: the sale can go on, and an API group not yet allowed to
        read the offer events (403) does not take every card down; the failure is logged and
        counted (``core_upstream_errors_total``). A redeem cannot check its items without them
        and fails."""
        types, limit = LoyaltyService.export(integration)
        if not types:
            return []
        try:
            events = await self._events(integration, customer_ids, types, limit, deadline)
        except DomainError as exc:  # unavailable, slow, rate limited, refused (403)
            if not card:
                raise
            log.warning(
                "card shown without offers",
                extra={"integration": integration.name, "error_class": type(exc).__name__},
            )
            return []
        return events or []


async def _both(first: Awaitable[T], second: Awaitable[Any]) -> tuple[T, Any]:
    """Two calls at once. The first decides: its failure is raised (the second is cancelled);
    the second's failure only once the first succeeded. The first runs in the caller's own
    task (a task fewer per card: the core's CPU is the customer path's limit)."""
    other = asyncio.ensure_future(second)
    try:
        result = await first
    except BaseException:
        other.cancel()
        raise
    return result, await other
