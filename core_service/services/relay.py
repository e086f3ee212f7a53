"""The relay: outbox -> Sitoo order -> Bloomreach, pipelined.

One loop claims due messages in batches (bounded by ``relay_max_in_flight``, so memory stays
flat whatever the backlog); each message becomes a task that fetches its order from Sitoo
(bounded concurrency), classifies it and builds deterministic commands, stores them on the
message (so a resend is byte-identical even if the order changes later), and hands them to its
Bloomreach project's sender, which packs the commands of many orders into paced ``batch``
calls. Outcomes are committed in groups, each guarded by the message's claim token; a
delivered order is written to ``tracked_orders`` in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from core_service.adapters.http_client import HttpClients
from core_service.domain.bloomreach_api import BloomreachError
from core_service.domain.delivery_outcome import (
    after_failure,
    backoff,
)
from core_service.domain.errors import StorageError
from core_service.domain.orders import OrderRef, Skip, plan
from core_service.domain.outbox import CUSTOMER, UNREADABLE, Claimed, Completion
from core_service.domain.sitoo_api import SitooError
from core_service.metrics import CoreMetrics
from core_service.services.batching import Batcher
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.outbox_gauges import refresh_once
from core_service.services.ports import IntegrationLister, OutboxStatsSource, RelayStore
from core_service.services.relay_customers import customer_outcome
from core_service.services.relay_tenants import Tenant, TenantCache, Tenants
from core_service.services.relay_verdicts import Verdicts
from runtime.settings import Settings

log = logging.getLogger(__name__)

# Claiming is paced by what the relay can send soon: about this many seconds of its Bloomreach
# budget, at this many (small) orders per batch call.
SEND_HORIZON_S = 1.0
ORDERS_PER_CALL_ESTIMATE = 12


class Relay:
    def __init__(
        self,
        *,
        repository: RelayStore,
        integrations: IntegrationLister,
        outbox_admin: OutboxStatsSource,
        http: HttpClients,
        settings: Settings,
        metrics: CoreMetrics,
        single_writer: bool,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        breakers: CircuitBreakers | None = None,
        tenants: Tenants | None = None,
    ) -> None:
        self._repo = repository
        self._outbox_admin = outbox_admin
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        self._verdicts = Verdicts(settings, metrics, clock, self._rng)
        self._tenants: Tenants = tenants or TenantCache(
            integrations, http, settings, metrics, clock, breakers=breakers
        )
        self._sitoo_slots = asyncio.Semaphore(settings.relay_sitoo_concurrency)
        self._in_flight = 0
        # Claimed messages whose Bloomreach call has not returned yet. Claiming stops at about
        # a second of this relay's Bloomreach budget: enough to fill every batch, little enough
        # that several relays draining one backlog share it instead of one hoarding
        # relay_max_in_flight messages that its own (split) budget sends slowly.
        self._unsent = 0
        self._freed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Outcomes this process committed, for its exit summary.
        self.totals: Counter[str] = Counter()
        writers = 1 if single_writer else 2
        self._prepare: Batcher[tuple[Claimed, dict[str, Any]], bool] = Batcher(
            self._flush_prepare, max_weight=200, linger_s=0.002, concurrency=writers
        )
        self._complete: Batcher[Completion, bool] = Batcher(
            self._flush_complete, max_weight=200, linger_s=0.002, concurrency=writers
        )

    # ---- the loop ----

    async def run(self, stop: asyncio.Event) -> None:
        settings = self._settings
        gauges = asyncio.create_task(self._update_gauges(stop))
        try:
            while not stop.is_set():
                room = min(
                    settings.relay_max_in_flight - self._in_flight,
                    self._unsent_limit() - self._unsent,
                )
                if room < min(settings.relay_batch_size, settings.relay_max_in_flight):
                    self._freed.clear()
                    await self._wait(stop, self._freed.wait(), settings.relay_poll_interval_seconds)
                    continue
                try:
                    claimed = await self._repo.claim(
                        min(settings.relay_batch_size, room),
                        settings.relay_lease_seconds,
                        self._clock(),
                    )
                    tracked = await self._already_tracked(claimed)
                except StorageError as exc:
                    log.error("relay cannot claim: %s", exc.cause)
                    await self._wait(stop, stop.wait(), settings.relay_poll_interval_seconds * 4)
                    continue
                if not claimed:
                    await self._wait(stop, stop.wait(), settings.relay_poll_interval_seconds)
                    continue
                for message in claimed:
                    self._in_flight += 1
                    self._unsent += 1
                    task = asyncio.create_task(self._handle(message, message.id in tracked))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            gauges.cancel()
            await self._drain()

    @staticmethod
    async def _wait(stop: asyncio.Event, waiter: Any, timeout: float) -> None:
        waiting = asyncio.ensure_future(waiter)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiting, stopping}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            for task in (waiting, stopping):
                task.cancel()

    async def _drain(self) -> None:
        """Let in-flight messages finish; whatever does not is reclaimed after its lease."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._settings.shutdown_grace_seconds)
        for task in list(self._tasks):
            task.cancel()
        await self._prepare.close()
        await self._complete.close()
        await self._tenants.close()

    async def _already_tracked(self, claimed: Sequence[Claimed]) -> set[int]:
        by_integration: dict[int, list[Claimed]] = defaultdict(list)
        for message in claimed:
            by_integration[message.integration_id].append(message)
        ids: set[int] = set()
        for integration_id, messages in by_integration.items():
            orders = [m.order_key for m in messages if m.kind != CUSTOMER]
            keys = await self._repo.tracked(integration_id, orders) if orders else set()
            ids.update(m.id for m in messages if m.order_key in keys)
        return ids

    def _unsent_limit(self) -> int:
        settings = self._settings
        if settings.bloomreach_requests_per_second <= 0:  # unpaced
            return settings.relay_max_in_flight
        per_second = settings.bloomreach_requests_per_second * ORDERS_PER_CALL_ESTIMATE
        tenants = max(1, len(self._tenants))
        return max(2 * settings.relay_batch_size, int(per_second * tenants * SEND_HORIZON_S))

    async def _handle(self, message: Claimed, already_tracked: bool) -> None:
        unsent = True
        try:
            completion = await self._process(message, already_tracked)
            unsent = False
            self._unsent -= 1
            self._freed.set()
            if completion is None:
                self._metrics.relay_outcomes.labels("lost_lease").inc()
                return
            applied = await self._complete.submit(completion)
            outcome = completion.state if applied else "lost_lease"
            self.totals[outcome] += 1
            self._metrics.relay_outcomes.labels(outcome).inc()
            if outcome in ("delivered", "skipped", "dead"):
                self._metrics.relay_delivery_attempts.labels(outcome).observe(message.attempts + 1)
        except Exception:  # the message stays in flight and comes back when its lease expires
            log.exception("relay failed on outbox message %s", message.id)
        finally:
            if unsent:
                self._unsent -= 1
            self._in_flight -= 1
            self._freed.set()

    # ---- one message ----

    async def _process(self, message: Claimed, already_tracked: bool) -> Completion | None:
        if already_tracked:
            return Completion(message, "skipped", skip_reason="already tracked", final=True)
        tenant = await self._tenants.get(message.integration_id)
        if tenant is None:
            outcome = after_failure(
                self._settings.relay_retry_schedule, message.attempts, self._rng
            )
            return self._verdicts.settle(
                message, None, "integration", "integration disabled or missing", outcome
            )
        payload = dict(message.payload)
        if UNREADABLE in payload:
            # Rebuilding from the order could send Bloomreach something other than what it
            # may already hold: an operator decides (the stored payload is left as it was).
            done = Completion(
                message, "dead", error=f"prepared commands unreadable: {payload[UNREADABLE]}"
            )
        elif message.kind == CUSTOMER:
            done = await self._customer(message, tenant, payload)
        else:
            return await self._order(message, tenant, payload)
        if message.kind == CUSTOMER and done.state == "dead":
            # Commands already answered 200 that Bloomreach will not take: never silent (an
            # alert rule watches this counter; the reason is the message's last_error).
            self._metrics.customer_commands_dead.labels(tenant.integration.name).inc()
        return done

    async def _customer(
        self, message: Claimed, tenant: Tenant, payload: dict[str, Any]
    ) -> Completion:
        """A customer's queued commands: sent in order, as stored (nothing to fetch)."""
        try:
            results = await tenant.sender.send(payload.get("commands", []), ordered=True)
        except BloomreachError as exc:
            return self._verdicts.bloomreach_failed(message, tenant, exc, None)
        return customer_outcome(message, results, tenant.integration.name, self._metrics)

    async def _order(
        self, message: Claimed, tenant: Tenant, payload: dict[str, Any]
    ) -> Completion | None:
        commands: list[dict[str, Any]] | None = payload.get("commands")
        if commands is None:
            ref = OrderRef(**payload["order"])
            try:
                async with self._sitoo_slots:
                    started = time.perf_counter()
                    order = await tenant.sitoo.get_order(
                        ref.eshop_id, ref.order_id, self._settings.relay_http_timeout_seconds
                    )
                    self._metrics.upstream_duration.labels("sitoo", "get_order").observe(
                        time.perf_counter() - started
                    )
            except SitooError as exc:
                return self._verdicts.sitoo_failed(message, tenant, exc, payload)
            planned = plan(order, ref, tenant.rule)
            if isinstance(planned, Skip):
                return Completion(message, "skipped", skip_reason=planned.reason, final=False)
            commands = list(planned.commands)
            payload = {
                "order": ref.to_json(),
                "purchase": {"purchase_id": planned.purchase_id, "kind": planned.kind},
                "commands": commands,
            }
            if not await self._prepare.submit((message, payload)):
                return None
        try:
            results = await tenant.sender.send(commands)
        except BloomreachError as exc:
            return self._verdicts.bloomreach_failed(message, tenant, exc, payload)
        failed = [r for r in results if not r.success]
        purchase = payload.get("purchase", {})
        if failed:
            errors = "; ".join(f"{r.command_id}: {', '.join(r.errors) or 'failed'}" for r in failed)
            if len(failed) == len(results):
                # Nothing was stored: a replay may rebuild the commands from the order.
                payload = {k: v for k, v in payload.items() if k != "commands"}
            self._metrics.upstream_errors.labels(
                "bloomreach", tenant.integration.name, "CommandRejected"
            ).inc()
            return Completion(
                message, "dead", error=f"Bloomreach rejected: {errors}", payload=payload
            )
        return Completion(
            message,
            "delivered",
            tracked={
                "purchase_id": purchase.get("purchase_id", ""),
                "kind": purchase.get("kind", ""),
                "commands": len(commands),
            },
        )

    def settings_changed(self) -> None:
        """Re-read integration settings before the next message (SIGHUP on a relay)."""
        self._tenants.settings_changed()

    # ---- group commits ----

    async def _flush_prepare(self, items: list[tuple[Claimed, dict[str, Any]]]) -> list[bool]:
        held = await self._repo.prepare(items, self._clock())
        return [message.id in held for message, _ in items]

    async def _flush_complete(self, items: list[Completion]) -> list[bool]:
        return await self._repo.complete(items, self._clock())

    async def _update_gauges(self, stop: asyncio.Event, interval: float = 15.0) -> None:
        while not stop.is_set():
            with contextlib.suppress(StorageError):
                await refresh_once(self._outbox_admin, self._metrics)
            await self._wait(stop, stop.wait(), interval)


# ``backoff`` moved to the domain; importable from here as before.
__all__ = ["Relay", "backoff"]
