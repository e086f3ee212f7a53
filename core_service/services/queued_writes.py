"""Customer writes answered while Bloomreach is unavailable (issue 15 §2).

When Bloomreach fails a create or an update with an outage (5xx, timeout, 429, a refused or
dropped connection, the circuit breaker open, a call shed for lack of time: the domain's
``UpstreamUnavailable``, ``UpstreamTimeout`` and ``UpstreamRateLimited``), and the
integration allows it (``queued_writes``), the core still answers: the input is validated and
mapped as on the live path, the Bloomreach commands are queued as a customer message in the
outbox (services/ports.py's CustomerCommandQueue; the relay delivers them in order), the card
the customer will have goes into the card cache, and the till gets that card.

- **Create**: the hard ID's existence cannot be checked; the write is queued unless the card
  cache knows the customer (then ``AlreadyExists``, as a live create would say).
- **Update**: planned against the cached card (domain/card_snapshot.py); a customer with no
  cached card cannot be updated blind: the outage error stands (503).
- **Order**: while a customer has commands queued, later writes of that customer are planned
  against the cached card and queued behind them, even when Bloomreach is back (a live write
  could overtake the queue, or see a stale profile); reads answer the cached card (read your
  writes at the till) until the relay has delivered.

Queued commands carry deterministic ids (a digest of the write) and the timestamps of the
moment the till saved, so the delivered result is what the live call would have stored. If
Bloomreach refuses them on delivery, the message goes dead with the reason and
``core_customer_commands_dead_total`` counts it (services/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from core_service.domain.card_snapshot import snapshot_of_card
from core_service.domain.customer import Customer, CustomerInput, Origin
from core_service.domain.customer_snapshot import WritePlan
from core_service.domain.errors import (
    AlreadyExists,
    StorageError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import Integration
from core_service.domain.mapping import CustomerMapping
from core_service.metrics import CoreMetrics
from core_service.services.ports import CardCache, CustomerCommandQueue

log = logging.getLogger(__name__)

# How long "this integration has no customer message open" is believed before the database
# is asked again (reads of such an integration cost no query meanwhile).
OPEN_CHECK_TTL_S = 1.0

# What a live call reports when Bloomreach cannot answer now (not: refused the data).
OUTAGE_ERRORS = (UpstreamUnavailable, UpstreamTimeout, UpstreamRateLimited)


def queued_writes_enabled(integration: Integration) -> bool:
    """The integration's switch (outage-cache's ``queued_writes`` setting)."""
    return integration.queued_writes


def with_write_ids(customer_id: str, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commands with ids unique to this write and the same for the same write: a digest
    of the customer and the commands (which hold the moment of the write)."""
    text = json.dumps([customer_id, list(commands)], sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return [
        {**c, "command_id": f"q{digest}-{c.get('command_id', n)}"} for n, c in enumerate(commands)
    ]


class QueuedWrites:
    def __init__(
        self,
        queue: CustomerCommandQueue,
        cards: CardCache,
        metrics: CoreMetrics,
        clock: Callable[[], float],
    ) -> None:
        self._queue = queue
        self._cards = cards
        self._metrics = metrics
        self._clock = clock
        # Per integration: whether any customer message is open, and until when that answer
        # stands. Most of the time none is, and a read then costs no database query at all.
        self._open: dict[int, tuple[bool, float]] = {}
        self._open_lock = asyncio.Lock()

    def export(self, integration: Integration) -> None:
        """The integration's counters exported at 0, so dashboards see it before an outage."""
        for operation in ("create", "update"):
            self._metrics.customer_writes_queued.labels(integration.name, operation)

    # ---- when ----

    @staticmethod
    def outage(integration: Integration, exc: Exception) -> bool:
        """Whether ``exc`` from a live write may be answered by queueing instead."""
        return queued_writes_enabled(integration) and isinstance(exc, OUTAGE_ERRORS)

    async def pending(self, integration: Integration, customer_id: str) -> bool:
        """Commands of the customer not yet delivered (False if the database cannot say: the
        live path then decides, as before queued writes existed)."""
        if not queued_writes_enabled(integration) or not customer_id:
            return False
        try:
            if not await self._any_open(integration.id):
                return False
            return await self._queue.pending(integration.id, customer_id)
        except StorageError:
            return False

    async def _any_open(self, integration_id: int) -> bool:
        """Whether the integration has customer messages open: asked of the database at most
        once per ``OPEN_CHECK_TTL_S`` (by one caller; the others wait for its answer), and
        set at once by this process's own enqueues. Another core's queued write is seen
        within that window."""
        now = self._clock()
        known = self._open.get(integration_id)
        if known is not None and now < known[1]:
            return known[0]
        async with self._open_lock:
            known = self._open.get(integration_id)
            if known is not None and now < known[1]:
                return known[0]
            found = await self._queue.any_pending(integration_id)
            self._open[integration_id] = (found, self._clock() + OPEN_CHECK_TTL_S)
            return found

    # ---- writes ----

    async def create(
        self, integration: Integration, mapping: CustomerMapping, plan: WritePlan, cause: Exception
    ) -> Customer:
        now = self._clock()
        if await self._recall(integration, plan.customer_id, now) is not None:
            raise AlreadyExists(
                f"a customer with {mapping.hard_source} {plan.customer_id!r} already exists"
            ) from cause
        card = mapping.customer(plan.after)
        await self.enqueue(integration, plan.customer_id, plan.commands, card, cause, "create")
        return card

    async def update(
        self,
        integration: Integration,
        mapping: CustomerMapping,
        customer_id: str,
        data: CustomerInput,
        origin: Origin,
    ) -> Customer | None:
        """Planned on the cached card and queued; None if the cache does not know the
        customer (an update cannot be planned blind)."""
        now = self._clock()
        normal = mapping.customer_ids(customer_id)[mapping.hard_id_name]
        cached = await self._recall(integration, normal, now)
        if cached is None:
            return None
        plan = mapping.plan_update(snapshot_of_card(mapping, cached), data, origin, now)
        card = dataclasses.replace(mapping.customer(plan.after), enrichment=cached.enrichment)
        if plan.commands:
            await self.enqueue(integration, normal, plan.commands, card, None, "update")
        return card

    async def enqueue(  # noqa: PLR0917 - the write's parts, named at every call
        self,
        integration: Integration,
        customer_id: str,
        commands: Sequence[dict[str, Any]],
        card: Customer,
        cause: Exception | None,
        operation: str,
    ) -> None:
        """Queue the write and remember the card; the outage error (``cause``) stands if the
        database cannot take the write (nothing was promised)."""
        now = self._clock()
        try:
            await self._queue.enqueue(
                integration_id=integration.id,
                customer_id=customer_id,
                commands=with_write_ids(customer_id, commands),
                now=now,
            )
        except StorageError as exc:
            log.error("customer write not queued: %s", exc, extra={"integration": integration.name})
            raise (cause or exc) from exc
        self._open[integration.id] = (True, now + OPEN_CHECK_TTL_S)
        self._metrics.customer_writes_queued.labels(integration.name, operation).inc()
        try:
            await self._cards.remember(integration, card, now=now)
        except StorageError as exc:  # queued all the same: the relay delivers it
            log.warning("queued card not cached: %s", exc, extra={"integration": integration.name})

    # ---- reads ----

    async def recall_pending(self, integration: Integration, customer_id: str) -> Customer | None:
        """The cached card of a customer with commands still queued (read your writes)."""
        if not await self.pending(integration, customer_id):
            return None
        return await self._recall(integration, customer_id, self._clock())

    async def recall_pending_by_key(
        self, integration: Integration, key_type: str, key: str
    ) -> Customer | None:
        if not queued_writes_enabled(integration):
            return None
        with contextlib.suppress(StorageError):
            card = await self._cards.recall_by_key(integration, key_type, key, now=self._clock())
            if card is not None and await self.pending(integration, card.customer_id):
                return card
        return None

    async def _recall(
        self, integration: Integration, customer_id: str, now: float
    ) -> Customer | None:
        try:
            return await self._cards.recall_by_id(integration, customer_id, now=now)
        except StorageError:
            return None
