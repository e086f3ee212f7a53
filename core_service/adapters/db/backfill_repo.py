"""Backfill and reconcile: job cursors, and enqueueing orders we have never seen.

The dedupe is the order path's: an order in ``tracked_orders`` is never tracked again, and an
order with an open message coalesces into it (the open-message unique index). Beyond that,
an order that ever had a message (delivered, skipped or dead) is *known*: the webhooks saw it,
and what happened to it is the outbox's business (``outbox replay`` for dead ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.dialect import insert
from core_service.adapters.db.inbox_repo import OPEN_STATES_SQL
from core_service.adapters.db.models import (
    OPEN_STATES,
    BackfillJob,
    OutboxMessage,
    TrackedOrder,
)
from core_service.domain.backfill import JobState, job_key
from core_service.domain.orders import OrderRef


class BackfillRepository:
    """Satisfies ``services.ports.BackfillStore``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def start(
        self, integration_id: int, kind: str, date_from: int, date_to: int, now: float
    ) -> JobState:
        """The window's job: continued where it stopped, or begun again once it finished
        (a second run over a finished window rescans it and finds everything known)."""
        key = job_key(kind, date_from, date_to)
        async with self._sessions.begin() as session:
            job = await session.scalar(
                select(BackfillJob)
                .where(BackfillJob.integration_id == integration_id, BackfillJob.job_key == key)
                .with_for_update()
            )
            if job is None:
                job = BackfillJob(
                    integration_id=integration_id,
                    job_key=key,
                    kind=kind,
                    from_date=date_from,
                    to_date=date_to,
                    state="running",
                    cursor_order_id=0,
                    scanned=0,
                    enqueued=0,
                    already_known=0,
                    runs=0,
                    started_at=now,
                    updated_at=now,
                )
                session.add(job)
            resumed = job.state == "running" and job.runs > 0
            if not resumed:
                job.cursor_order_id = 0
                job.scanned = job.enqueued = job.already_known = 0
                job.started_at = now
                job.finished_at = None
            job.state = "running"
            job.runs += 1
            job.updated_at = now
            await session.flush()
            return JobState(
                job.id,
                key,
                resumed,
                job.cursor_order_id,
                job.scanned,
                job.enqueued,
                job.already_known,
            )

    async def unknown(self, integration_id: int, refs: Sequence[OrderRef]) -> list[OrderRef]:
        """The orders of ``refs`` that were never tracked and never had a message."""
        async with self._sessions() as session:
            known = await self._known(session, integration_id, [r.key for r in refs])
        return [r for r in refs if r.key not in known]

    async def open_messages(self, integration_id: int) -> int:
        """Pending or in-flight messages of the integration (backfill's back-pressure)."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.integration_id == integration_id,
                    OutboxMessage.state.in_(OPEN_STATES),
                )
            )
        return int(count or 0)

    async def record_page(
        self,
        job_id: int | None,
        integration_id: int,
        refs: Sequence[OrderRef],
        cursor_order_id: int,
        now: float,
    ) -> list[OrderRef]:
        """Enqueue the page's unknown orders and move the cursor past the page, in one
        transaction (an interrupted job never skips nor double-counts a page)."""
        async with self._sessions.begin() as session:
            known = await self._known(session, integration_id, [r.key for r in refs])
            fresh = sorted((r for r in refs if r.key not in known), key=lambda r: r.key)
            enqueued: set[str] = set()
            if fresh:
                rows = [
                    {
                        "integration_id": integration_id,
                        "order_key": ref.key,
                        "kind": "order",
                        "payload": {"order": ref.to_json(), "source": "backfill"},
                        "state": "pending",
                        "attempts": 0,
                        "available_at": now,
                        "generation": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for ref in fresh
                ]
                statement = (
                    insert(session, OutboxMessage)
                    .values(rows)
                    .on_conflict_do_nothing(
                        index_elements=["integration_id", "order_key"],
                        index_where=text(OPEN_STATES_SQL),
                    )
                    .returning(OutboxMessage.order_key)
                )
                enqueued = set((await session.scalars(statement)).all())
            added = [r for r in fresh if r.key in enqueued]
            if job_id is None:  # reconcile: a short recent window, no cursor kept
                return added
            job = await session.get(BackfillJob, job_id, with_for_update=True)
            assert job is not None
            job.cursor_order_id = max(job.cursor_order_id, cursor_order_id)
            job.scanned += len(refs)
            job.enqueued += len(added)
            job.already_known += len(refs) - len(added)
            job.updated_at = now
        return added

    async def finish(self, job_id: int, now: float) -> None:
        async with self._sessions.begin() as session:
            job = await session.get(BackfillJob, job_id)
            if job is not None:
                job.state = "done"
                job.finished_at = now
                job.updated_at = now

    @staticmethod
    async def _known(session: AsyncSession, integration_id: int, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        tracked = await session.scalars(
            select(TrackedOrder.order_key).where(
                TrackedOrder.integration_id == integration_id, TrackedOrder.order_key.in_(keys)
            )
        )
        messaged = await session.scalars(
            select(OutboxMessage.order_key).where(
                OutboxMessage.integration_id == integration_id, OutboxMessage.order_key.in_(keys)
            )
        )
        return set(tracked.all()) | set(messaged.all())
