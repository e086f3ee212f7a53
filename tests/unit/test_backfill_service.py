"""Backfill and reconcile against an in-memory job store (services/ports.py's BackfillStore)
and Sitoo order list (tests/support/fake_upstream.py): paging, the cursor an interrupted job
resumes from, dry runs, reconcile's window, and how Sitoo's failures end a job.
tests/e2e/test_backfill.py runs the same service on the real database and Sitoo emulator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from core_service.domain.backfill import JobState, job_key
from core_service.domain.errors import FailedPrecondition, InvalidArgument, UpstreamUnavailable
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    BloomreachAccess,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.domain.orders import OrderRef
from core_service.domain.sitoo_api import SitooAuthFailed, SitooRejected, SitooUnavailable
from core_service.metrics import CoreMetrics
from core_service.services.backfill import BackfillService, Progress
from core_service.services.ports import BackfillStore
from runtime.settings import load_settings
from tests.support.fake_upstream import FakeOrderList, FakeUpstream

NOW = 1_700_000_000.0
ACCOUNT = 90


class FakeJobs:
    """Jobs by key and the orders ever enqueued or tracked, in memory (the dedupe of
    adapters/db/backfill_repo.py: a known order is never enqueued again)."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.enqueued: list[str] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.finished: list[int] = []
        self.open = 0
        self.pages: list[int | None] = []  # the job id of each record_page

    async def start(
        self, integration_id: int, kind: str, date_from: int, date_to: int, now: float
    ) -> JobState:
        key = job_key(kind, date_from, date_to)
        job = self.jobs.get(key)
        if job is None:
            job = self.jobs[key] = {"id": len(self.jobs) + 1, "state": "new", "runs": 0}
            job.update(cursor=0, scanned=0, enqueued=0, already_known=0)
        resumed = job["state"] == "running" and job["runs"] > 0
        if not resumed:
            job.update(cursor=0, scanned=0, enqueued=0, already_known=0)
        job["state"] = "running"
        job["runs"] += 1
        return JobState(
            job["id"],
            key,
            resumed,
            job["cursor"],
            job["scanned"],
            job["enqueued"],
            job["already_known"],
        )

    async def unknown(self, integration_id: int, refs: Sequence[OrderRef]) -> list[OrderRef]:
        return [r for r in refs if r.key not in self.known]

    async def open_messages(self, integration_id: int) -> int:
        return self.open

    async def record_page(
        self,
        job_id: int | None,
        integration_id: int,
        refs: Sequence[OrderRef],
        cursor_order_id: int,
        now: float,
    ) -> list[OrderRef]:
        self.pages.append(job_id)
        added = [r for r in refs if r.key not in self.known]
        for ref in added:
            self.known.add(ref.key)
            self.enqueued.append(ref.key)
        if job_id is not None:
            job = next(j for j in self.jobs.values() if j["id"] == job_id)
            job["cursor"] = max(job["cursor"], cursor_order_id)
            job["scanned"] += len(refs)
            job["enqueued"] += len(added)
            job["already_known"] += len(refs) - len(added)
        return added

    async def finish(self, job_id: int, now: float) -> None:
        self.finished.append(job_id)
        for job in self.jobs.values():
            if job["id"] == job_id:
                job["state"] = "done"


def integration(*, api_id: str = "id") -> Integration:
    return Integration(
        id=1,
        name="shop",
        display_name="Shop",
        company="Shop AB",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("http://br", "token", "key", "secret"),
        sitoo=SitooAccess(ACCOUNT, "http://sitoo", api_id, "pw", site_id=1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=tuple(FieldMapping(f, t) for f, t in DEFAULT_FIELD_MAPPINGS),
        consent_types=(),
        channel_categories={},
    )


def orders(*ids: int, date: int = 1000, eshop: int | None = 2) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for order_id in ids:
        row: dict[str, Any] = {"orderid": order_id, "orderdate": date}
        if eshop is not None:
            row["eshopid"] = eshop
        rows.append(row)
    return rows


def key(order_id: int, eshop: int = 2) -> str:
    return OrderRef(ACCOUNT, eshop, order_id).key


class Fixture:
    def __init__(self) -> None:
        self.jobs = FakeJobs()
        self.orders = FakeOrderList()
        self.upstream = FakeUpstream(orders=self.orders)
        store: BackfillStore = self.jobs
        self.service = BackfillService(
            store,
            self.upstream,
            load_settings(
                backfill_page_size=2,
                backfill_sitoo_requests_per_second=10_000.0,
                backfill_max_open_messages=10,
                reconcile_window_hours=26.0,
                reconcile_grace_seconds=300.0,
            ),
            CoreMetrics.create(),
            clock=lambda: NOW,
        )

    async def run(self, integration: Integration, **options: Any) -> list[Progress]:
        return [
            # Progress is one object updated in place: keep what each step reported.
            Progress(**vars(p))
            async for p in self.service.run(integration, 0, 2000, **options)
        ]


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


async def test_a_backfill_pages_through_the_window_and_enqueues_the_unknown(
    fx: Fixture,
) -> None:
    fx.orders.orders = orders(1, 2, 3, 4, 5) + orders(9, date=5000)  # 9 is outside the window
    fx.jobs.known.add(key(2))  # a webhook saw it already
    steps = await fx.run(integration())
    assert [s.done for s in steps] == [False, False, True]
    last = steps[-1]
    assert (last.total, last.scanned, last.enqueued, last.already_known) == (5, 5, 4, 1)
    assert last.cursor_order_id == 5
    assert fx.jobs.enqueued == [key(1), key(3), key(4), key(5)]
    # One job, paged by `start` from the cursor it began at, and finished.
    assert fx.orders.calls == [(1, 0, 2), (1, 2, 2), (1, 4, 2)]
    assert fx.jobs.finished == [1]
    assert fx.jobs.pages == [1, 1, 1]


async def test_an_interrupted_backfill_resumes_after_its_cursor(fx: Fixture) -> None:
    fx.orders.orders = orders(1, 2, 3, 4, 5)
    # The first page is recorded, the second call fails (not transient): the job stops.
    runs = fx.service.run(integration(), 0, 2000)
    first = await anext(runs)
    assert (first.scanned, first.cursor_order_id) == (2, 2)
    fx.orders.fail = [SitooRejected("Sitoo answered 400")]
    with pytest.raises(UpstreamUnavailable):
        await anext(runs)
    assert fx.jobs.finished == []
    # The next run over the same window continues after order 2.
    steps = await fx.run(integration())
    assert steps[0].resumed
    assert fx.orders.calls[-2:] == [(3, 0, 2), (3, 2, 2)]
    assert steps[-1].scanned == 5 and steps[-1].enqueued == 5
    assert fx.jobs.enqueued == [key(n) for n in (1, 2, 3, 4, 5)]


async def test_a_finished_window_is_scanned_again_from_the_start(fx: Fixture) -> None:
    fx.orders.orders = orders(1, 2, 3)
    await fx.run(integration())
    steps = await fx.run(integration())
    assert not steps[0].resumed
    assert (steps[-1].scanned, steps[-1].enqueued, steps[-1].already_known) == (3, 0, 3)


async def test_a_dry_run_counts_without_enqueueing_or_keeping_a_job(fx: Fixture) -> None:
    fx.orders.orders = orders(1, 2, 3)
    fx.jobs.known.add(key(3))
    steps = await fx.run(integration(), dry_run=True)
    assert steps[-1].done and (steps[-1].enqueued, steps[-1].already_known) == (2, 1)
    assert fx.jobs.enqueued == [] and fx.jobs.jobs == {} and fx.jobs.pages == []
    assert fx.jobs.finished == []


async def test_reconcile_looks_back_over_its_window_and_reports_the_missed(
    fx: Fixture,
) -> None:
    inside = int(NOW - 3600)
    fx.orders.orders = (
        orders(10, 11, date=inside)
        + orders(12, date=int(NOW - 60))  # in the grace period: webhooks still on their way
        + orders(13, date=int(NOW - 27 * 3600))  # before the window
    )
    fx.jobs.known.add(key(10))
    missed = await fx.service.reconcile_recent(integration())
    assert missed == [11]
    # Reconcile keeps no job: its pages carry no job id.
    assert fx.jobs.jobs == {} and fx.jobs.pages == [None]


async def test_an_order_without_eshop_id_is_on_the_integrations_site(fx: Fixture) -> None:
    fx.orders.orders = orders(7, eshop=None)
    await fx.run(integration())
    assert fx.jobs.enqueued == [key(7, eshop=1)]


async def test_an_empty_window_is_refused(fx: Fixture) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        await anext(fx.service.run(integration(), 2000, 2000))
    assert fx.orders.calls == []


async def test_without_sitoo_api_access_nothing_is_listed(fx: Fixture) -> None:
    with pytest.raises(FailedPrecondition, match="Sitoo REST API"):
        await fx.run(integration(api_id=""))
    assert fx.orders.calls == [] and fx.upstream.accounts == []


async def test_refused_sitoo_credentials_end_the_job_at_once(fx: Fixture) -> None:
    fx.orders.orders = orders(1)
    fx.orders.fail = [SitooAuthFailed("Sitoo answered 401", status=401)]
    with pytest.raises(FailedPrecondition, match="refused the API credentials"):
        await fx.run(integration())
    assert len(fx.orders.calls) == 1


async def test_a_transient_sitoo_failure_is_retried(fx: Fixture) -> None:
    fx.orders.orders = orders(1)
    fx.orders.fail = [SitooUnavailable("Sitoo answered 503", status=503)]
    steps = await fx.run(integration())  # waits out one backoff (about a second)
    assert steps[-1].enqueued == 1
    assert len(fx.orders.calls) == 2
