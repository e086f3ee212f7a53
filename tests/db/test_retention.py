"""The retention purge on both databases: old inbox events, finished messages and quarantined
bodies go in bounded chunks; young rows, open and dead messages and tracked_orders stay; a dry
run changes nothing; purges running at once divide the work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cli import migrate
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.retention_repo import RetentionRepository
from core_service.metrics import CoreMetrics
from core_service.services.retention import DAY_S, RetentionService, run_schedule
from harness.databases import SEED_INTEGRATION_SQL, query_rows, seed_integration_params
from runtime.settings import load_settings

NOW = 1_800_000_000.0
KEEP_DAYS = 30
CUTOFF = NOW - KEEP_DAYS * DAY_S
OLD, YOUNG = CUTOFF - 3600.0, CUTOFF + 3600.0

INBOX_SQL = (
    "INSERT INTO inbox_events (integration_id, event_id, event_type, event_date, outcome,"
    " received_at) VALUES (1, :event_id, 'order', 0, 'accepted', :at)"
)
OUTBOX_SQL = (
    "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state, attempts,"
    " available_at, created_at, updated_at, finished_at, generation)"
    " VALUES (1, :key, 'order', :payload, :state, 1, 0, :at, :at, :finished, 0)"
)
TRACKED_SQL = (
    "INSERT INTO tracked_orders (integration_id, order_key, purchase_id, kind, message_id,"
    " commands, tracked_at) VALUES (1, :key, :key, 'sale', 0, 2, :at)"
)
QUARANTINE_SQL = (
    "INSERT INTO quarantine (integration_id, received_at, reason, raw_body, request_id)"
    " VALUES (1, :at, 'bad', :body, '')"
)
# The prepared commands carry personal data: exactly what must not be kept for good.
PAYLOAD = '{"commands": [{"data": {"customer_ids": {"registered": "a@example.com"}}}]}'


def _outbox(key: str, state: str, at: float, finished: bool = True) -> dict[str, Any]:
    return {
        "key": key,
        "payload": PAYLOAD,
        "state": state,
        "at": at,
        "finished": at if finished else None,
    }


async def _seed(url: str, *, old_inbox: int = 7, old_delivered: int = 5) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as c:
            await c.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
            inbox = [{"event_id": f"old-{n}", "at": OLD - n} for n in range(old_inbox)]
            inbox += [{"event_id": f"young-{n}", "at": YOUNG} for n in range(3)]
            # Exactly at the cut-off is not older than it: kept.
            inbox.append({"event_id": "edge", "at": CUTOFF})
            await c.execute(text(INBOX_SQL), inbox)
            outbox = [_outbox(f"d{n}", "delivered", OLD - n) for n in range(old_delivered)]
            outbox += [_outbox(f"s{n}", "skipped", OLD - n) for n in range(4)]
            outbox += [
                _outbox("young-delivered", "delivered", YOUNG),
                _outbox("young-skipped", "skipped", YOUNG),
                # Never purged, however old: open work and work waiting for a replay.
                _outbox("old-pending", "pending", OLD, finished=False),
                _outbox("old-in-flight", "in_flight", OLD, finished=False),
                _outbox("old-dead", "dead", OLD),
            ]
            await c.execute(text(OUTBOX_SQL), outbox)
            await c.execute(
                text(TRACKED_SQL), [{"key": f"d{n}", "at": OLD} for n in range(old_delivered)]
            )
            await c.execute(
                text(QUARANTINE_SQL),
                [{"at": OLD - n, "body": b"{not json"} for n in range(4)]
                + [{"at": YOUNG, "body": b"{young"}],
            )
    finally:
        await engine.dispose()


async def _counts(url: str) -> dict[str, int]:
    counts = {}
    for table in ("inbox_events", "outbox_messages", "quarantine", "tracked_orders"):
        rows = await query_rows(url, f"SELECT count(*) FROM {table}")  # noqa: S608
        counts[table] = int(rows[0][0])
    return counts


def _service(url: str, metrics: CoreMetrics, chunk_rows: int = 3) -> tuple[Any, RetentionService]:
    engine = create_engine(url)
    settings = load_settings(
        retention_inbox_days=KEEP_DAYS,
        retention_finished_days=KEEP_DAYS,
        retention_quarantine_days=KEEP_DAYS,
    )
    service = RetentionService(
        RetentionRepository(session_factory(engine)),
        settings,
        metrics,
        clock=lambda: NOW,
        chunk_rows=chunk_rows,
        pause_s=0.0,
    )
    return engine, service


def test_old_rows_go_in_chunks_and_everything_else_stays(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        before = await _counts(database_url)
        metrics = CoreMetrics.create()
        engine, service = _service(database_url, metrics)
        try:
            dry = await service.run(dry_run=True)
            assert dry.done and dry.dry_run
            assert dry.deleted == {
                "inbox_events": 7,
                "outbox_messages": 9,
                "quarantine": 4,
                "card_cache": 0,
            }
            assert await _counts(database_url) == before  # a dry run changes nothing

            steps = [p async for p in service.progress()]
            # 7, 9 and 4 rows in chunks of 3: every table took more than one chunk.
            assert len(steps) > 3 and not any(s.done for s in steps[:-1])
            final = steps[-1]
            assert final.done and not final.dry_run
            assert final.deleted == dry.deleted
            assert [t.cutoff for t in final.tables][:3] == [CUTOFF] * 3

            again = await service.run()
            assert again.deleted == {
                "inbox_events": 0,
                "outbox_messages": 0,
                "quarantine": 0,
                "card_cache": 0,
            }
        finally:
            await engine.dispose()

        for table, count in dry.deleted.items():
            value = metrics.registry.get_sample_value(
                "core_retention_deleted_rows_total", {"table": table}
            )
            assert value == count
        runs = {
            outcome: metrics.registry.get_sample_value(
                "core_retention_runs_total", {"outcome": outcome}
            )
            for outcome in ("done", "stopped", "failed")
        }
        assert runs == {"done": 2.0, "stopped": 0.0, "failed": 0.0}  # the dry run not counted

        inbox = await query_rows(database_url, "SELECT event_id FROM inbox_events")
        assert sorted(r[0] for r in inbox) == ["edge", "young-0", "young-1", "young-2"]
        outbox = await query_rows(database_url, "SELECT order_key, state FROM outbox_messages")
        assert sorted(outbox) == [
            ("old-dead", "dead"),
            ("old-in-flight", "in_flight"),
            ("old-pending", "pending"),
            ("young-delivered", "delivered"),
            ("young-skipped", "skipped"),
        ]
        quarantine = await query_rows(database_url, "SELECT received_at FROM quarantine")
        assert [r[0] for r in quarantine] == [YOUNG]
        # The exactly-once record survives its messages.
        tracked = await query_rows(database_url, "SELECT order_key FROM tracked_orders")
        assert sorted(r[0] for r in tracked) == [f"d{n}" for n in range(5)]

    asyncio.run(go())


def test_purges_running_at_once_divide_the_work(database_url: str) -> None:
    """Several relays purge on the same schedule: nothing fails, nothing is counted twice."""
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url, old_inbox=300, old_delivered=200)
        metrics = CoreMetrics.create()
        services = [_service(database_url, metrics, chunk_rows=17) for _ in range(3)]
        try:
            results = await asyncio.gather(*(s.run() for _, s in services))
        finally:
            for engine, _ in services:
                await engine.dispose()
        assert all(r.done for r in results)
        total = {t: sum(r.deleted[t] for r in results) for t in results[0].deleted}
        assert total == {
            "inbox_events": 300,
            "outbox_messages": 204,
            "quarantine": 4,
            "card_cache": 0,
        }
        assert await _counts(database_url) == {
            "inbox_events": 4,
            "outbox_messages": 5,
            "quarantine": 1,
            "tracked_orders": 200,
        }

    asyncio.run(go())


def test_a_stop_ends_the_run_after_the_chunk_in_hand(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        metrics = CoreMetrics.create()
        engine, service = _service(database_url, metrics)
        stop = asyncio.Event()
        try:
            steps = []
            async for progress in service.progress(stop=stop):
                steps.append(progress)
                stop.set()  # e.g. SIGTERM to the relay
        finally:
            await engine.dispose()
        assert not steps[-1].done
        assert (
            metrics.registry.get_sample_value("core_retention_runs_total", {"outcome": "stopped"})
            == 1
        )
        assert sum(steps[-1].deleted.values()) == 3  # one chunk, the rest waits
        assert (await _counts(database_url))["inbox_events"] == 11 - 3

    asyncio.run(go())


def test_the_schedule_purges_soon_after_start_and_stops_on_the_event(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        metrics = CoreMetrics.create()
        engine, service = _service(database_url, metrics)
        stop = asyncio.Event()
        # A whole interval away, but the first run comes after `first_run_after_s`.
        task = asyncio.create_task(run_schedule(service, 3600.0, stop, first_run_after_s=0.05))
        try:
            for _ in range(600):  # up to 30 s
                if (await _counts(database_url))["quarantine"] == 1:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            async with asyncio.timeout(5):
                await task
        finally:
            task.cancel()
            await engine.dispose()
        assert await _counts(database_url) == {
            "inbox_events": 4,
            "outbox_messages": 5,
            "quarantine": 1,
            "tracked_orders": 5,
        }

    asyncio.run(go())


def test_a_failed_purge_is_counted_for_the_alert(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        metrics = CoreMetrics.create()
        engine, service = _service(database_url, metrics)
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE quarantine"))  # the last table purged
        try:
            with pytest.raises(SQLAlchemyError):
                await service.run()
        finally:
            await engine.dispose()
        sample = metrics.registry.get_sample_value
        assert sample("core_retention_runs_total", {"outcome": "failed"}) == 1
        assert sample("core_retention_runs_total", {"outcome": "done"}) == 0
        # What went before the failure was committed and counted.
        assert sample("core_retention_deleted_rows_total", {"table": "inbox_events"}) == 7

    asyncio.run(go())
