"""The customer path's use cases: the CRM SPI v2 answered from Bloomreach in real time.

Each use case costs Bloomreach as little as it can: a read is one ``customers/attributes``
call; a create is one read (does the hard ID exist?) and one ``batch``; an update is one read
and, only when something changed, one ``batch``. Every call runs under the caller's deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from core_service.domain import purchase_history
from core_service.domain.bloomreach_api import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachRateLimited,
    BloomreachRejected,
    BloomreachTimeout,
    BloomreachUnavailable,
)
from core_service.domain.customer import Customer, CustomerInput, Origin, Purchase
from core_service.domain.errors import (
    AlreadyExists,
    NotFound,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import ConsentType, Integration
from core_service.domain.mapping import AttributeAnswer, CustomerMapping, Snapshot
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates, GuardedSlot
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.customer_offers import CustomerOffers
from core_service.services.deadline import Deadline
from core_service.services.loyalty import LoyaltyService
from core_service.services.queued_writes import OUTAGE_ERRORS, QueuedWrites
from core_service.services.upstream_ports import BloomreachApi

log = logging.getLogger(__name__)


class CustomerService(CustomerOffers):
    def __init__(
        self,
        clients: BloomreachClients,
        metrics: CoreMetrics,
        *,
        bloomreach_timeout_s: float,
        history_limit: int,
        gates: CallGates,
        clock: Callable[[], float] = time.time,
        breakers: CircuitBreakers | None = None,
        loyalty: LoyaltyService | None = None,
        queued: QueuedWrites | None = None,
    ) -> None:
        self._loyalty = loyalty
        self._clients = clients
        self._gates = gates
        # Off unless given (fast service-level tests); bootstrap gives the core's.
        self._breakers = breakers or CircuitBreakers(0, 1.0, 1.0)
        self._metrics = metrics
        self._timeout = bloomreach_timeout_s
        self._history_limit = history_limit
        self._clock = clock
        # Writes answered while Bloomreach is unavailable (services/queued_writes.py).
        self._queued = queued
        self._mappings: dict[str, tuple[float, CustomerMapping]] = {}

    def mapping(self, integration: Integration) -> CustomerMapping:
        """Compiled once per integration version (the read plan is reused by every call)."""
        cached = self._mappings.get(integration.name)
        if cached is not None and cached[0] == integration.updated_at:
            return cached[1]
        mapping = CustomerMapping(integration)
        self._mappings[integration.name] = (integration.updated_at, mapping)
        if self._queued is not None:
            self._queued.export(integration)
        return mapping

    # ---- use cases --------------------------------------------------------------------

    async def search(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        """One customer or none. A profile without the hard ID (e.g. known only by a web
        cookie and an e-mail soft ID) is not a Sitoo customer yet: the POS then offers to
        create it, and the create merges that profile through the soft IDs."""
        mapping = self.mapping(integration)
        ids = mapping.resolve_key(key_type, key)
        queued = self._queued
        try:
            snap = await self._read(integration, mapping, ids, deadline)
        except OUTAGE_ERRORS:
            card = (
                None
                if queued is None
                else await queued.recall_pending_by_key(integration, key_type, key)
            )
            if card is None:
                raise
            # Read your writes: queued while Bloomreach is away.
            await self._answered_from_cache(integration, "search", key_type, key)
            return [await self._current_offers(integration, card)]
        if queued is None:
            if snap is None or snap.hard_id is None:
                return []
            return [await self._search_card(integration, mapping, snap, deadline)]
        # Read your writes: a customer with queued commands is shown as the till saved it,
        # marked as the card cache's answer like the same card during an outage (and as `get`
        # marks it).
        if snap is None or snap.hard_id is None:
            card = await queued.recall_pending_by_key(integration, key_type, key)
        else:
            card = await queued.recall_pending(integration, snap.hard_id)
            if card is None:
                return [await self._search_card(integration, mapping, snap, deadline)]
        if card is None:
            return []
        await self._answered_from_cache(integration, "search", key_type, key)
        return [await self._current_offers(integration, card)]

    async def _search_card(
        self, integration: Integration, mapping: CustomerMapping, snap: Snapshot, deadline: Deadline
    ) -> Customer:
        """The card search answers: offers only when the integration asks for them (issue 14:
        no extra Bloomreach call on search unless configured)."""
        customer = mapping.customer(snap)
        if self._loyalty is None or not integration.loyalty.search_shows_offers:
            return customer
        return await self._with_offers(integration, mapping, customer, deadline, snap)

    async def get(self, integration: Integration, customer_id: str, deadline: Deadline) -> Customer:
        """The card: one attributes read and, with loyalty offers configured, one events
        export beside it (issue 14: at most one extra call per card, whatever the offers), or
        after it only when the offer-count gate says there may be offers."""
        mapping = self.mapping(integration)
        if self._queued is not None:
            hard_id = mapping.customer_ids(customer_id)[mapping.hard_id_name]
            queued = await self._queued.recall_pending(integration, hard_id)
            if queued is not None:
                await self._answered_from_cache(integration, "get", "customer_id", hard_id)
                return await self._current_offers(integration, queued)
        if self._loyalty is None or not integration.loyalty.enabled:
            return mapping.customer(
                await self._existing(integration, mapping, customer_id, deadline)
            )
        return await self._card_with_offers(integration, mapping, customer_id, deadline)

    async def lookup(
        self, integration: Integration, key_type: str, key: str, deadline: Deadline
    ) -> list[Customer]:
        """Prefill for Create Customer: whatever Bloomreach knows under that key, without a
        ``customer_id`` (the customer may not be a Sitoo customer yet)."""
        mapping = self.mapping(integration)
        ids = mapping.resolve_key(key_type or mapping.hard_source, key, prefer_soft=True)
        snap = await self._read(integration, mapping, ids, deadline)
        if snap is None:
            return []
        return [mapping.customer(snap, with_id=False)]

    async def create(
        self, integration: Integration, data: CustomerInput, origin: Origin, deadline: Deadline
    ) -> Customer:
        mapping = self.mapping(integration)
        plan = mapping.plan_create(data, origin, self._clock())
        queued = self._queued
        exists = AlreadyExists(
            f"a customer with {mapping.hard_source} {plan.customer_id!r} already exists"
        )
        if queued is not None and await queued.pending(integration, plan.customer_id):
            raise exists  # created or updated while Bloomreach was away, not delivered yet
        try:
            current = await self._read(
                integration, mapping, mapping.customer_ids(plan.customer_id), deadline
            )
        except OUTAGE_ERRORS as exc:
            if queued is None or not queued.outage(integration, exc):
                raise
            return await queued.create(integration, mapping, plan, exc)
        if current is not None and current.hard_id is not None:
            raise exists
        card = mapping.customer(plan.after)
        try:
            await self._send(integration, plan.commands, deadline)
        except OUTAGE_ERRORS as exc:
            if queued is None or not queued.outage(integration, exc):
                raise
            await queued.enqueue(integration, plan.customer_id, plan.commands, card, exc, "create")
        return card

    async def update(
        self,
        integration: Integration,
        customer_id: str,
        data: CustomerInput,
        origin: Origin,
        deadline: Deadline,
    ) -> Customer:
        mapping = self.mapping(integration)
        queued = self._queued
        if queued is not None:
            hard_id = mapping.customer_ids(customer_id)[mapping.hard_id_name]
            if await queued.pending(integration, hard_id):
                # Behind the customer's queued commands, planned on the card they make.
                card = await queued.update(integration, mapping, customer_id, data, origin)
                if card is not None:
                    return card
        try:
            snap = await self._existing(integration, mapping, customer_id, deadline)
        except OUTAGE_ERRORS as exc:
            if queued is None or not queued.outage(integration, exc):
                raise
            card = await queued.update(integration, mapping, customer_id, data, origin)
            if card is None:
                raise  # no card to plan on: the till gets 503 and tries again
            return card
        plan = mapping.plan_update(snap, data, origin, self._clock())
        card = mapping.customer(plan.after)
        if plan.commands:
            try:
                await self._send(integration, plan.commands, deadline)
            except OUTAGE_ERRORS as exc:
                if queued is None or not queued.outage(integration, exc):
                    raise
                hard_id = plan.customer_id
                await queued.enqueue(integration, hard_id, plan.commands, card, exc, "update")
        return card

    def consent_types(self, integration: Integration) -> tuple[ConsentType, ...]:
        return integration.consent_types

    async def purchase_history(
        self, integration: Integration, customer_id: str, limit: int, deadline: Deadline
    ) -> list[Purchase]:
        mapping = self.mapping(integration)
        limit = limit if limit > 0 else self._history_limit
        events = await self._events(
            integration,
            mapping.customer_ids(customer_id),
            purchase_history.EVENT_TYPES,
            purchase_history.events_to_fetch(limit),
            deadline,
        )
        if events is None:
            raise NotFound(f"no customer with {mapping.hard_source} {customer_id!r}")
        return purchase_history.purchases_from_events(events, limit)

    async def _answered_from_cache(
        self, integration: Integration, operation: str, key_type: str, key: str
    ) -> None:
        """A card with queued writes answered from the card cache (read your writes): the
        card cache marks the answer as its own (services/card_cache.py); nothing here."""

    # ---- Bloomreach -------------------------------------------------------------------

    async def _events(
        self,
        integration: Integration,
        customer_ids: dict[str, str],
        event_types: Sequence[str],
        limit: int,
        deadline: Deadline,
    ) -> list[dict[str, Any]] | None:
        """One events export, newest first; None for an unknown customer."""
        client = self._client(integration)
        async with (
            self._slot(integration, deadline) as timeout,
            self._upstream(integration, "export_events"),
        ):
            return await client.export_events(
                customer_ids, event_types, timeout, order="desc", limit=limit
            )

    def _client(self, integration: Integration) -> BloomreachApi:
        try:
            return self._clients.for_integration(integration)
        except UpstreamMisconfigured:
            self._count(integration, "misconfigured")
            raise

    async def _existing(
        self,
        integration: Integration,
        mapping: CustomerMapping,
        customer_id: str,
        deadline: Deadline,
    ) -> Snapshot:
        snap = await self._read(integration, mapping, mapping.customer_ids(customer_id), deadline)
        if snap is None or snap.hard_id is None:
            raise NotFound(f"no customer with {mapping.hard_source} {customer_id!r}")
        return snap

    async def _read(
        self,
        integration: Integration,
        mapping: CustomerMapping,
        customer_ids: dict[str, str],
        deadline: Deadline,
    ) -> Snapshot | None:
        client = self._client(integration)
        async with (
            self._slot(integration, deadline) as timeout,
            self._upstream(integration, "attributes"),
        ):
            results = await client.attributes(customer_ids, mapping.attributes, timeout)
        if results is None:
            return None
        snap = mapping.snapshot([AttributeAnswer(r.success, r.value) for r in results])
        return snap if snap.found else None

    async def _send(
        self, integration: Integration, commands: tuple[dict[str, object], ...], deadline: Deadline
    ) -> None:
        client = self._client(integration)
        async with (
            self._slot(integration, deadline) as timeout,
            self._upstream(integration, "batch"),
        ):
            results = await client.batch(commands, timeout)
        failed = [r for r in results if not r.success]
        if failed:
            self._count(integration, "rejected")
            first = failed[0]
            raise UpstreamRejected(
                f"Bloomreach refused command {first.command_id!r}: "
                f"{'; '.join(first.errors) or 'no reason given'}"
            )

    def _slot(self, integration: Integration, deadline: Deadline) -> GuardedSlot:
        """A call slot of the integration, if its call can finish in time; the call's timeout.
        While the project's circuit is open, ``CircuitOpen`` at once, before any queueing."""
        gate = self._gates.for_integration(integration.name)
        return GuardedSlot(self._breakers.guard(integration), gate.call(deadline, self._timeout))

    @property
    def breakers(self) -> CircuitBreakers:
        return self._breakers

    def _count(self, integration: Integration, error_class: str) -> None:
        self._metrics.upstream_errors.labels("bloomreach", integration.name, error_class).inc()

    @asynccontextmanager
    async def _upstream(self, integration: Integration, operation: str) -> AsyncIterator[None]:
        """Time the call and turn Bloomreach's failure classes into domain errors."""
        started = time.perf_counter()
        try:
            yield
        except BloomreachError as exc:
            error_class = _CLASSES.get(type(exc), "other")
            self._count(integration, error_class)
            log.warning(
                "bloomreach call failed",
                extra={
                    "integration": integration.name,
                    "operation": operation,
                    "error_class": error_class,
                    "bloomreach_request_id": exc.request_id,
                    "error": str(exc),
                },
            )
            raise _domain_error(integration, exc) from exc
        finally:
            self._metrics.bloomreach_duration(operation).observe(time.perf_counter() - started)


_CLASSES: dict[type[BloomreachError], str] = {
    BloomreachRateLimited: "rate_limited",
    BloomreachUnavailable: "unavailable",
    BloomreachTimeout: "timeout",
    BloomreachAuthFailed: "auth",
    BloomreachRejected: "rejected",
}


def _domain_error(integration: Integration, exc: BloomreachError) -> Exception:
    if isinstance(exc, BloomreachRateLimited):
        return UpstreamRateLimited("Bloomreach rate limit reached", exc.retry_after_s)
    if isinstance(exc, BloomreachTimeout):
        return UpstreamTimeout("Bloomreach did not answer in time")
    if isinstance(exc, BloomreachUnavailable):
        return UpstreamUnavailable("Bloomreach is unavailable")
    if isinstance(exc, BloomreachAuthFailed):
        # Name the setting to fix, never its value (the secret stays out of every message).
        return UpstreamMisconfigured(
            f"Bloomreach refused the credentials of integration {integration.name!r}: check "
            f"its Bloomreach API key ID ({integration.bloomreach.api_key_id!r}), API secret "
            f"and project token ({exc})"
        )
    return UpstreamRejected(f"Bloomreach rejected the request: {exc}")
