"""Retention: the database must not grow forever.

Cut-offs come from the clock and the ``retention_*`` settings (fixed for the whole run, so a
long purge does not chase a moving target); each table is purged in bounded chunks until a
chunk comes back short or the stop event is set. What may be deleted at all is the
repository's decision (``adapters/db/retention_repo.py``): ``tracked_orders`` and open or
dead outbox messages are kept forever.

The relay process runs it every ``retention_interval_seconds``; operators run it with
``sitoo-bloomreach retention run [--dry-run]`` through the AdminService.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from core_service.domain.retention import CARD_CACHE_KEEP_DAYS, PURGED_TABLES
from core_service.metrics import CoreMetrics
from core_service.services.ports import RetentionStore
from runtime.settings import Settings

log = logging.getLogger(__name__)

DAY_S = 86400.0
# Rows per DELETE transaction: short enough that webhooks and relays writing beside the purge
# (SQLite: waiting for its one write lock) barely notice, large enough to clear a backlog of
# millions in minutes.
CHUNK_ROWS = 5000
# Between chunks, other writers get the database (SQLite's busy handler is not fair).
CHUNK_PAUSE_S = 0.05
RUN_OUTCOMES = ("done", "stopped", "failed")


@dataclass(frozen=True)
class TablePurge:
    table: str
    keep_days: int
    cutoff: float  # Unix seconds: older rows go
    deleted: int = 0  # a dry run: would be deleted
    done: bool = False


@dataclass(frozen=True)
class RetentionProgress:
    tables: tuple[TablePurge, ...]
    dry_run: bool
    done: bool  # False after every chunk but the last, and when stopped early
    elapsed_seconds: float

    @property
    def deleted(self) -> dict[str, int]:
        return {t.table: t.deleted for t in self.tables}


class RetentionService:
    def __init__(
        self,
        repository: RetentionStore,
        settings: Settings,
        metrics: CoreMetrics,
        *,
        clock: Callable[[], float] = time.time,
        chunk_rows: int = CHUNK_ROWS,
        pause_s: float = CHUNK_PAUSE_S,
    ) -> None:
        self._repository = repository
        self._metrics = metrics
        self._clock = clock
        self._chunk_rows = chunk_rows
        self._pause_s = pause_s
        self._keep_days = {
            "inbox_events": settings.retention_inbox_days,
            "outbox_messages": settings.retention_finished_days,
            "quarantine": settings.retention_quarantine_days,
            "card_cache": CARD_CACHE_KEEP_DAYS,
        }
        assert set(self._keep_days) == set(PURGED_TABLES)
        for table in PURGED_TABLES:
            # Exported at 0 from the start: "nothing purged yet" is a value, not a gap.
            metrics.retention_deleted_rows.labels(table)
        for outcome in RUN_OUTCOMES:
            metrics.retention_runs.labels(outcome)

    def plan(self, now: float) -> tuple[TablePurge, ...]:
        """What goes, per table: rows older than ``now`` minus the table's retention."""
        return tuple(
            TablePurge(table, self._keep_days[table], now - self._keep_days[table] * DAY_S)
            for table in PURGED_TABLES
        )

    async def progress(
        self, *, dry_run: bool = False, stop: asyncio.Event | None = None
    ) -> AsyncIterator[RetentionProgress]:
        """Purges, yielding the counts so far after every chunk; the last one is ``done``
        unless ``stop`` was set (the rest waits for the next run). A dry run only counts."""
        started = time.monotonic()
        tables = list(self.plan(self._clock()))

        def snapshot(done: bool) -> RetentionProgress:
            return RetentionProgress(
                tuple(tables), dry_run, done, round(time.monotonic() - started, 3)
            )

        if dry_run:
            for i, t in enumerate(tables):
                tables[i] = replace(
                    t, deleted=await self._repository.count(t.table, t.cutoff), done=True
                )
            yield snapshot(True)
            return
        try:
            async for progress in self._purge(tables, snapshot, stop):
                yield progress
        except Exception:
            self._metrics.retention_runs.labels("failed").inc()
            raise

    async def _purge(
        self,
        tables: list[TablePurge],
        snapshot: Callable[[bool], RetentionProgress],
        stop: asyncio.Event | None,
    ) -> AsyncIterator[RetentionProgress]:
        stopped = False
        for i, t in enumerate(tables):
            while not t.done:
                if stop is not None and stop.is_set():
                    stopped = True
                    break
                deleted = await self._repository.delete_chunk(t.table, t.cutoff, self._chunk_rows)
                if deleted:
                    self._metrics.retention_deleted_rows.labels(t.table).inc(deleted)
                t = tables[i] = replace(
                    t, deleted=t.deleted + deleted, done=deleted < self._chunk_rows
                )
                if not t.done:
                    yield snapshot(False)
                    await self._pause(stop)
            if stopped:
                break
        final = snapshot(not stopped)
        self._metrics.retention_runs.labels("done" if final.done else "stopped").inc()
        log.info(
            "retention purge %s",
            "done" if final.done else "stopped",
            extra={"deleted": final.deleted, "elapsed_s": final.elapsed_seconds},
        )
        yield final

    async def run(
        self, *, dry_run: bool = False, stop: asyncio.Event | None = None
    ) -> RetentionProgress:
        last = None
        async for progress in self.progress(dry_run=dry_run, stop=stop):
            last = progress
        assert last is not None
        return last

    async def _pause(self, stop: asyncio.Event | None) -> None:
        if stop is None:
            await asyncio.sleep(self._pause_s)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._pause_s)


async def run_schedule(
    service: RetentionService,
    interval_s: float,
    stop: asyncio.Event,
    *,
    first_run_after_s: float = 60.0,
) -> None:
    """Purges every ``interval_s`` until ``stop``. The first run comes ``first_run_after_s``
    after start (not a whole interval: relays restarted more often than the interval must
    still purge). A failed run (e.g. the database away) waits for the next interval."""
    delay = min(interval_s, first_run_after_s)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        delay = interval_s
        try:
            await service.run(stop=stop)
        except Exception:  # the schedule outlives any one failure
            log.exception("scheduled retention purge failed")
