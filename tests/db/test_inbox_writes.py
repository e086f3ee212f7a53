"""The webhook's writes on both databases: a group commit of several batches means exactly what
committing them one after the other would, and a batch the database refuses fails alone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text

from cli import migrate
from core_service.adapters.db import engine as engine_module
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.inbox_repo import InboxEntry, InboxRepository, InboxWrite
from core_service.domain.errors import UpstreamUnavailable
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.orders import OrderRef
from core_service.metrics import CoreMetrics
from core_service.services.ingest import IncomingEvent, IngestService, Outcome
from harness.databases import (
    SEED_INTEGRATION_SQL,
    kill_backends,
    postgres_database,
    query_rows,
    seed_integration_params,
)

X, Y = OrderRef(1, 1, 100), OrderRef(1, 1, 200)


def _order(event_id: str, order: OrderRef) -> InboxEntry:
    return InboxEntry(event_id, "order", 1_700_000_000, order)


async def _seed(url: str, *names: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for number, name in enumerate(names, start=1):
                await connection.execute(
                    text(SEED_INTEGRATION_SQL), seed_integration_params(number, name)
                )
    finally:
        await engine.dispose()


def test_a_group_commits_what_its_batches_would_one_after_another(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url, "acme", "other")
        engine = create_engine(database_url)
        repo = InboxRepository(session_factory(engine))
        try:
            # An order already waiting in the outbox: later events coalesce into it.
            assert await repo.record(1, [_order("e0", X)], 1.0) == {"e0"}
            group = [
                InboxWrite(
                    1, [_order("a", X), _order("b", Y), InboxEntry("c", "shipment", 1, None)]
                ),
                # "a" again (Sitoo's retry racing the original) and a second event for Y.
                InboxWrite(1, [_order("a", X), _order("d", Y)]),
                # The same event id and order numbers under another integration are its own.
                InboxWrite(2, [_order("a", X)]),
            ]
            assert await repo.record_many(group, 2.0) == [{"a", "b", "c"}, {"d"}, {"a"}]
            # Replayed whole, the group changes nothing.
            assert await repo.record_many(group, 3.0) == [set(), set(), set()]
        finally:
            await engine.dispose()

        inbox = await query_rows(
            database_url,
            "SELECT integration_id, event_id, outcome FROM inbox_events"
            " ORDER BY integration_id, event_id",
        )
        assert inbox == [
            (1, "a", "accepted"),
            (1, "b", "accepted"),
            (1, "c", "ignored"),
            (1, "d", "accepted"),
            (1, "e0", "accepted"),
            (2, "a", "accepted"),
        ]
        outbox = await query_rows(
            database_url,
            "SELECT integration_id, order_key, state, generation, created_at, updated_at"
            " FROM outbox_messages ORDER BY integration_id, order_key",
        )
        # X's open message was bumped once by the group (one enqueue per order), Y was
        # enqueued once for two events, and the replay touched nothing.
        assert outbox == [
            (1, X.key, "pending", 1, 1.0, 2.0),
            (1, Y.key, "pending", 0, 2.0, 2.0),
            (2, X.key, "pending", 0, 2.0, 2.0),
        ]

    asyncio.run(go())


class _GroupSizes(InboxRepository):
    """The real repository, remembering how many batches each transaction carried."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.groups: list[int] = []

    async def record_many(self, writes: Sequence[InboxWrite], now: float) -> list[set[str]]:
        self.groups.append(len(writes))
        return await super().record_many(writes, now)


def _integration(integration_id: int) -> Integration:
    return Integration(
        id=integration_id,
        name="acme",
        display_name="Acme",
        company="Acme AB",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("http://br", "token", "key", "secret"),
        sitoo=SitooAccess(1, "http://sitoo", "id", "pw", 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=(),
        consent_types=(),
    )


def _events(batch: int) -> list[IncomingEvent]:
    return [
        IncomingEvent(f"b{batch}-{n}", "order", 1_700_000_000, 1, 1, 1000 * batch + n + 1)
        for n in range(10)
    ]


@pytest.mark.parametrize("writers", [1, 2])
def test_concurrent_batches_share_commits_and_a_refused_batch_fails_alone(
    database_url: str, writers: int
) -> None:
    if writers > 1 and database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer; the core never runs it with two")
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url, "acme")
        engine = create_engine(database_url)
        repo = _GroupSizes(session_factory(engine))
        ingest = IngestService(repo, CoreMetrics.create(), max_group_events=100, writers=writers)
        acme = _integration(1)
        # Deleted between authentication and the write: its foreign key fails in the database.
        gone = dataclasses.replace(acme, id=99)
        try:
            calls = [ingest.ingest(acme, _events(n), b"", "", f"r{n}") for n in range(40)]
            calls.insert(17, ingest.ingest(gone, _events(99), b"", "", "r99"))
            results = await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await ingest.close()
            await engine.dispose()

        refused = results.pop(17)
        assert isinstance(refused, UpstreamUnavailable)
        assert all(not isinstance(r, BaseException) for r in results), results
        for n, result in enumerate(results):
            assert result == [(f"b{n}-{i}", Outcome.ACCEPTED) for i in range(10)]
        # Concurrent batches rode together (at most 10 of 10 events each) ...
        assert max(repo.groups) > 1
        assert max(repo.groups) <= 10
        # ... and every accepted event and order is there, exactly once.
        counts = await query_rows(
            database_url,
            "SELECT (SELECT count(*) FROM inbox_events),"
            " (SELECT count(DISTINCT order_key) FROM outbox_messages),"
            " (SELECT count(*) FROM outbox_messages)",
        )
        assert counts == [(400, 400, 400)]

    asyncio.run(go())


@pytest.mark.postgres
def test_a_database_restart_between_batches_costs_no_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pooled connections used in the last seconds are not pinged; the first write after a
    restart meets a dead one. The group is written again on a fresh connection."""
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)
    with postgres_database() as url:
        migrate.upgrade(url)

        async def go() -> None:
            await _seed(url, "acme")
            engine = create_engine(url)
            ingest = IngestService(InboxRepository(session_factory(engine)), CoreMetrics.create())
            acme = _integration(1)
            try:
                assert await ingest.ingest(acme, _events(1), b"", "", "r1")
                await kill_backends(url.rsplit("/", 1)[1])
                second = await ingest.ingest(acme, _events(2), b"", "", "r2")
            finally:
                await ingest.close()
                await engine.dispose()
            assert second == [(f"b2-{i}", Outcome.ACCEPTED) for i in range(10)]
            assert await query_rows(url, "SELECT count(*) FROM inbox_events") == [(20,)]

        asyncio.run(go())
