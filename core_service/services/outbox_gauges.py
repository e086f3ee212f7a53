"""Outbox depth by state and the age of the oldest open message, as gauges, refreshed from
the database by every process that serves metrics (core, relay, run), so the numbers reach a
scrape endpoint whichever processes a deployment runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core_service.domain.errors import StorageError
from core_service.metrics import CoreMetrics
from core_service.services.ports import OutboxStatsSource

log = logging.getLogger(__name__)


async def refresh_once(outbox: OutboxStatsSource, metrics: CoreMetrics) -> None:
    stats = await outbox.stats(None)
    for state, count in stats.counts_by_state.items():  # every state, zeros included
        metrics.outbox_messages.labels(state).set(count)
    metrics.outbox_oldest_pending_age.set(stats.oldest_pending_age_seconds)


async def refresh_forever(
    outbox: OutboxStatsSource, metrics: CoreMetrics, interval_s: float = 15.0
) -> None:
    while True:
        with contextlib.suppress(StorageError):
            await refresh_once(outbox, metrics)
        await asyncio.sleep(interval_s)
