"""The Events SPI inbox: validate, record, enqueue; never call Bloomreach or Sitoo here, so the
acknowledgement stays fast whatever they are doing.

Concurrent webhook batches share transactions (group commit): while one transaction is being
written, the batches that arrive queue up and go together in the next one. Nothing waits for
a group to fill, so a lone batch is written at once; under load, one commit (one fsync, one
set of round trips) serves many batches. Each caller is answered only after the commit that
holds its batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core_service.domain.errors import (
    ConnectionLost,
    DataRejected,
    InvalidArgument,
    StorageError,
    TooManyRequests,
    UpstreamUnavailable,
)
from core_service.domain.inbox import InboxEntry, InboxWrite, QuarantineCaps
from core_service.domain.integration import Integration
from core_service.domain.orders import OrderRef
from core_service.metrics import CoreMetrics
from core_service.services.batching import Batcher
from core_service.services.ports import Clock, InboxStore
from core_service.services.quarantine_limit import MalformedBatchLimiter

log = logging.getLogger(__name__)

# Event types whose data is OrderData (documented): each one means "this order changed".
ORDER_EVENT_TYPES = frozenset({"order", "booking"})
MAX_EVENT_ID_CHARS = 64


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True)
class IncomingEvent:
    event_id: str
    event_type: str
    event_date: int
    account_id: int
    eshop_id: int | None = None
    order_id: int | None = None


def _entry(integration: Integration, event: IncomingEvent) -> InboxEntry:
    if not event.event_id or len(event.event_id) > MAX_EVENT_ID_CHARS:
        raise InvalidArgument(
            f"event_id must be 1-{MAX_EVENT_ID_CHARS} characters", field="event_id"
        )
    expected = integration.sitoo.account_id
    if expected and event.account_id != expected:
        raise InvalidArgument(
            f"event {event.event_id}: account_id {event.account_id} is not this "
            f"integration's Sitoo account",
            field="account_id",
        )
    order = None
    if event.event_type in ORDER_EVENT_TYPES:
        if not event.eshop_id or not event.order_id:
            raise InvalidArgument(f"event {event.event_id}: order data lacks ids", field="data")
        order = OrderRef(event.account_id, event.eshop_id, event.order_id)
    return InboxEntry(event.event_id, event.event_type[:40], event.event_date, order)


class IngestService:
    def __init__(
        self,
        repository: InboxStore,
        metrics: CoreMetrics,
        *,
        clock: Clock = time.time,
        max_group_events: int = 500,
        writers: int = 1,
        quarantine_caps: QuarantineCaps | None = None,
        quarantine_limiter: MalformedBatchLimiter | None = None,
    ) -> None:
        self._repo = repository
        self._metrics = metrics
        self._clock = clock
        self._caps = quarantine_caps or QuarantineCaps(max_bodies=1000, max_bytes=64 << 20)
        self._limiter = quarantine_limiter or MalformedBatchLimiter(per_minute=30.0, burst=20)
        self._writes: Batcher[InboxWrite, set[str] | Exception] = Batcher(
            self._write_group,
            max_weight=max_group_events,
            linger_s=0.0,
            concurrency=writers,
            weight=lambda write: len(write.entries),
        )

    async def close(self) -> None:
        await self._writes.close()

    async def ingest(
        self,
        integration: Integration,
        events: Sequence[IncomingEvent],
        raw_body: bytes,
        validation_error: str,
        request_id: str,
    ) -> list[tuple[str, Outcome]]:
        """Per event: accepted, duplicate or ignored. Committed before this returns.

        A malformed batch is kept verbatim in quarantine and refused with InvalidArgument.
        """
        try:
            if validation_error:
                raise InvalidArgument(validation_error)
            if not events:
                raise InvalidArgument("the body must hold 1 to 10 events")
            entries = [_entry(integration, e) for e in events]
        except InvalidArgument as exc:
            await self._quarantine(integration, str(exc), raw_body, request_id)
            raise
        try:
            new = await self._writes.submit(InboxWrite(integration.id, entries))
            if isinstance(new, Exception):
                raise new
        except StorageError as exc:
            log.error("inbox write failed: %s", exc.cause)
            raise UpstreamUnavailable("the database is unavailable, retry later") from exc
        return [
            (e.event_id, Outcome(e.outcome) if e.event_id in new else Outcome.DUPLICATE)
            for e in entries
        ]

    async def _write_group(self, writes: list[InboxWrite]) -> list[set[str] | Exception]:
        """One transaction for the group. If the database refuses the data itself (not its
        availability), each batch is retried alone, so one bad batch fails only its caller."""
        self._metrics.webhook_group_batches.observe(len(writes))
        try:
            return list(await self._record_many(writes))
        except DataRejected:
            if len(writes) == 1:
                raise
        results: list[set[str] | Exception] = []
        for write in writes:
            try:
                results.append(
                    await self._repo.record(write.integration_id, write.entries, self._clock())
                )
            except StorageError as exc:
                results.append(exc)
        return results

    async def _record_many(self, writes: list[InboxWrite]) -> list[set[str]]:
        """A connection the server dropped (a database restart: pooled connections used in the
        last seconds are not pinged) is retried once, on a fresh one, instead of answering 503.
        The write is idempotent, so repeating even a commit whose answer was lost is safe: its
        events then come back as duplicates, and nothing is lost or doubled."""
        try:
            return await self._repo.record_many(writes, self._clock())
        except ConnectionLost:
            log.warning("inbox write lost its database connection; retrying once")
        return await self._repo.record_many(writes, self._clock())

    async def _quarantine(
        self, integration: Integration, reason: str, raw_body: bytes, request_id: str
    ) -> None:
        wait = self._limiter.take(integration.id)
        if wait > 0:
            # Not stored and not a 400: Sitoo retries a 429 later (a 400 it would drop), so a
            # burst of malformed batches is slowed down, never lost unseen.
            self._metrics.quarantine_rate_limited.inc()
            log.warning(
                "malformed webhook batch rate limited",
                extra={"integration": integration.name, "retry_after_s": round(wait, 1)},
            )
            raise TooManyRequests(
                "too many malformed batches from this integration, retry later", wait
            )
        try:
            stored = await self._repo.quarantine(
                integration.id,
                reason,
                raw_body,
                request_id=request_id,
                now=self._clock(),
                caps=self._caps,
            )
        except StorageError as exc:
            # Without the quarantine row a 400 would lose the body for good: ask for a retry.
            raise UpstreamUnavailable("the database is unavailable, retry later") from exc
        log.warning(
            "webhook batch quarantined",
            extra={"integration": integration.name, "quarantine_id": stored.id, "reason": reason},
        )
        if stored.dropped:
            self._metrics.quarantine_dropped.inc(stored.dropped)
            self._metrics.quarantine_dropped_bytes.inc(stored.dropped_bytes)
            log.warning(
                "quarantine full: oldest bodies dropped",
                extra={
                    "integration": integration.name,
                    "dropped": stored.dropped,
                    "dropped_bytes": stored.dropped_bytes,
                },
            )
