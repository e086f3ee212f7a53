"""Backfill and reconcile: close the gaps the webhooks leave.

The product guide says historical orders are not migrated, and Sitoo drops webhook events it
could not deliver for about 24 hours. Both are closed the same way: page through Sitoo's order
list for a window (documented filters ``orderdatefrom``/``orderdateto``, ``sort=orderid``,
``start``/``num`` paging, ``totalcount``) and enqueue every order the middleware has never
seen through the same outbox, with the same dedupe, as a webhook would. The relay then
fetches and tracks them like any other order.

Backfill keeps a cursor per (integration, window) so an interrupted job continues where it
stopped; reconcile is a short recent window, run by hand or on the relay's schedule, and
reports the orders the webhooks missed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from core_service.domain.backfill import JobState, job_key
from core_service.domain.errors import FailedPrecondition, InvalidArgument, UpstreamUnavailable
from core_service.domain.integration import Integration
from core_service.domain.orders import OrderRef
from core_service.domain.sitoo_api import (
    OrderPage,
    SitooAccount,
    SitooAuthFailed,
    SitooError,
    SitooRateLimited,
)
from core_service.metrics import CoreMetrics
from core_service.services.batching import RateLimiter
from core_service.services.ports import BackfillStore
from core_service.services.upstream_ports import SitooOrderListing, Upstream
from runtime.settings import Settings

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 30.0
MAX_TRANSIENT_FAILURES = 6  # per page, with exponential backoff (1 s .. 32 s)


@dataclass
class Progress:
    job_key: str
    total: int = 0
    scanned: int = 0
    enqueued: int = 0
    already_known: int = 0
    done: bool = False
    resumed: bool = False
    cursor_order_id: int = 0
    missed_order_ids: list[int] = field(default_factory=list)
    elapsed_seconds: float = 0.0


class BackfillService:
    def __init__(
        self,
        repository: BackfillStore,
        upstream: Upstream,
        settings: Settings,
        metrics: CoreMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repository
        self._upstream = upstream
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = random.Random()  # noqa: S311 - jitter, not crypto

    async def run(
        self,
        integration: Integration,
        date_from: int,
        date_to: int,
        *,
        dry_run: bool = False,
        reconcile: bool = False,
    ) -> AsyncIterator[Progress]:
        """Progress after every page; the last one has ``done``."""
        if date_to <= date_from:
            raise InvalidArgument("the window is empty: --to must be after --from")
        lister = self._lister(integration)
        kind = "reconcile" if reconcile else "backfill"
        started = time.monotonic()
        if dry_run or reconcile:
            job = JobState(0, job_key(kind, date_from, date_to), False, 0, 0, 0, 0)
        else:
            job = await self._repo.start(integration.id, kind, date_from, date_to, self._clock())
        progress = Progress(
            job.job_key,
            scanned=job.scanned,
            enqueued=job.enqueued,
            already_known=job.already_known,
            resumed=job.resumed,
            cursor_order_id=job.cursor_order_id,
        )
        limiter = RateLimiter(self._settings.backfill_sitoo_requests_per_second)
        num = self._settings.backfill_page_size
        order_id_from = job.cursor_order_id + 1
        start = 0
        first = True
        while True:
            page = await self._page(
                lister,
                limiter,
                integration,
                window=(date_from, date_to),
                order_id_from=order_id_from,
                start=start,
                num=num,
            )
            if first:
                progress.total = job.scanned + page.totalcount
                first = False
            refs = [self._ref(integration, order) for order in page.orders]
            new: list[OrderRef] = []
            if refs:
                cursor = max(r.order_id for r in refs)
                if dry_run:
                    new = await self._repo.unknown(integration.id, refs)
                else:
                    new = await self._repo.record_page(
                        job.id or None, integration.id, refs, cursor, self._clock()
                    )
                progress.cursor_order_id = cursor
            progress.scanned += len(refs)
            progress.enqueued += len(new)
            progress.already_known += len(refs) - len(new)
            progress.missed_order_ids = [r.order_id for r in new]
            progress.elapsed_seconds = time.monotonic() - started
            self._count(integration, kind, len(new), len(refs) - len(new), dry_run)
            if len(page.orders) < num:
                break
            yield progress
            start += len(page.orders)
            if not dry_run:
                await self._wait_for_relay(integration)
        if not (dry_run or reconcile):
            await self._repo.finish(job.id, self._clock())
        progress.done = True
        progress.elapsed_seconds = time.monotonic() - started
        yield progress

    async def reconcile_recent(self, integration: Integration) -> list[int]:
        """The relay's scheduled run: the last ``reconcile_window_hours``, minus the grace
        period for webhooks still on their way. Returns the order ids the webhooks missed."""
        now = self._clock()
        date_to = int(now - self._settings.reconcile_grace_seconds)
        date_from = int(now - self._settings.reconcile_window_hours * 3600)
        missed: list[int] = []
        async for progress in self.run(integration, date_from, date_to, reconcile=True):
            missed.extend(progress.missed_order_ids)
        if missed:
            log.warning(
                "reconcile found orders the webhooks missed",
                extra={"integration": integration.name, "missed": len(missed)},
            )
        return missed

    # ---- parts ----

    def _lister(self, integration: Integration) -> SitooOrderListing:
        sitoo = integration.sitoo
        if not (sitoo.api_base_url and sitoo.account_id and sitoo.api_id):
            raise FailedPrecondition(
                f"integration {integration.name!r} has no Sitoo REST API URL, account or API id "
                "configured (`integration update --sitoo-url --sitoo-account --sitoo-api-id`)"
            )
        account = SitooAccount(
            sitoo.api_base_url, sitoo.account_id, sitoo.api_id, sitoo.api_password or ""
        )
        return self._upstream.sitoo_order_lister(account)

    @staticmethod
    def _ref(integration: Integration, order: dict[str, object]) -> OrderRef:
        eshop = order.get("eshopid")
        eshop_id = eshop if isinstance(eshop, int) and eshop > 0 else integration.sitoo.site_id
        order_id = order["orderid"]
        assert isinstance(order_id, int)
        return OrderRef(integration.sitoo.account_id, eshop_id, order_id)

    async def _page(
        self,
        lister: SitooOrderListing,
        limiter: RateLimiter,
        integration: Integration,
        *,
        window: tuple[int, int],
        order_id_from: int,
        start: int,
        num: int,
    ) -> OrderPage:
        date_from, date_to = window
        failures = 0
        while True:
            await limiter.acquire()
            began = time.perf_counter()
            try:
                return await lister.list_orders(
                    date_from=date_from,
                    date_to=date_to,
                    order_id_from=order_id_from,
                    start=start,
                    num=num,
                    timeout=LIST_TIMEOUT_S,
                )
            except SitooError as exc:
                self._metrics.upstream_errors.labels(
                    "sitoo", integration.name, type(exc).__name__
                ).inc()
                if isinstance(exc, SitooAuthFailed):
                    self._metrics.upstream_auth_alerts.labels("sitoo", integration.name).inc()
                    raise FailedPrecondition(
                        f"Sitoo refused the API credentials of integration "
                        f"{integration.name!r} (API id {integration.sitoo.api_id!r}): {exc}"
                    ) from exc
                failures += 1
                if not exc.transient or failures > MAX_TRANSIENT_FAILURES:
                    raise UpstreamUnavailable(f"Sitoo order list failed: {exc}") from exc
                delay = 2.0 ** (failures - 1) * self._rng.uniform(0.8, 1.2)
                if isinstance(exc, SitooRateLimited) and exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                    limiter.pause(delay)
                log.warning(
                    "sitoo order list failed; retrying",
                    extra={"integration": integration.name, "error": str(exc), "delay_s": delay},
                )
                await asyncio.sleep(delay)
            finally:
                self._metrics.upstream_duration.labels("sitoo", "list_orders").observe(
                    time.perf_counter() - began
                )

    async def _wait_for_relay(self, integration: Integration) -> None:
        """Back-pressure: never more than ``backfill_max_open_messages`` open messages."""
        limit = self._settings.backfill_max_open_messages
        while True:
            if await self._repo.open_messages(integration.id) < limit:
                return
            await asyncio.sleep(1.0)

    def _count(
        self, integration: Integration, kind: str, new: int, known: int, dry_run: bool
    ) -> None:
        if dry_run:
            return
        counter = self._metrics.backfill_orders
        if new:
            counter.labels(integration.name, kind, "enqueued").inc(new)
            if kind == "reconcile":
                self._metrics.reconcile_missed.labels(integration.name).inc(new)
        if known:
            counter.labels(integration.name, kind, "known").inc(known)
