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
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core_service.adapters.bloomreach import (
    MAX_BATCH_COMMANDS,
    BloomreachAuthFailed,
    BloomreachClient,
    BloomreachError,
    BloomreachProject,
    BloomreachRateLimited,
    CommandResult,
)
from core_service.adapters.db.integrations_repo import IntegrationRepository
from core_service.adapters.db.outbox_repo import OutboxAdminRepository
from core_service.adapters.db.relay_repo import UNREADABLE, Claimed, Completion, RelayRepository
from core_service.adapters.http_client import HttpClients
from core_service.adapters.sitoo_api import (
    SitooAccount,
    SitooAuthFailed,
    SitooClient,
    SitooError,
    SitooNotFound,
    SitooRateLimited,
)
from core_service.domain.integration import Integration
from core_service.domain.orders import CustomerRule, OrderRef, Skip, plan
from core_service.metrics import CoreMetrics
from core_service.services.batching import Batcher, RateLimiter
from runtime.settings import Settings

log = logging.getLogger(__name__)

JITTER = 0.2  # +-20 % on every backoff delay, so retries of one outage do not synchronise
NOT_FOUND_MAX_DELAY_S = 60.0  # an order not yet visible usually is a second later
# Claiming is paced by what the relay can send soon: about this many seconds of its Bloomreach
# budget, at this many (small) orders per batch call.
SEND_HORIZON_S = 1.0
ORDERS_PER_CALL_ESTIMATE = 12


def backoff(
    schedule: Sequence[float], failures: int, rng: random.Random, retry_after: float | None
) -> float | None:
    """Seconds until the next attempt after ``failures`` failed ones; None = give up."""
    if failures >= len(schedule):
        return None
    delay = schedule[failures] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class ProjectSender:
    """Commands of many orders into paced ``batch`` calls of one Bloomreach project."""

    def __init__(self, client: BloomreachClient, settings: Settings, metrics: CoreMetrics) -> None:
        self._client = client
        self._timeout = settings.relay_http_timeout_seconds
        self._metrics = metrics
        self.limiter = RateLimiter(settings.bloomreach_requests_per_second)
        self._batcher: Batcher[list[dict[str, Any]], list[CommandResult]] = Batcher(
            self._flush,
            max_weight=MAX_BATCH_COMMANDS,
            linger_s=0.02,
            concurrency=max(1, settings.relay_concurrency),
            weight=len,
            gate=self.limiter.acquire,
        )

    async def send(self, commands: Sequence[dict[str, Any]]) -> list[CommandResult]:
        # An order of more than 50 commands travels in several batches (same ids, same
        # timestamp), as Bloomreach advises for large receipts.
        chunks = [
            list(commands[i : i + MAX_BATCH_COMMANDS])
            for i in range(0, len(commands), MAX_BATCH_COMMANDS)
        ]
        results = await asyncio.gather(*(self._batcher.submit(chunk) for chunk in chunks))
        return [result for chunk in results for result in chunk]

    async def _flush(self, items: list[list[dict[str, Any]]]) -> list[list[CommandResult]]:
        flat = [command for item in items for command in item]
        self._metrics.relay_batch_commands.observe(len(flat))
        started = time.perf_counter()
        try:
            results = await self._client.batch(flat, self._timeout)
        except BloomreachRateLimited as exc:
            self.limiter.pause(exc.retry_after_s if exc.retry_after_s is not None else 1.0)
            raise
        finally:
            self._metrics.upstream_duration.labels("bloomreach", "batch").observe(
                time.perf_counter() - started
            )
        out: list[list[CommandResult]] = []
        position = 0
        for item in items:
            out.append(results[position : position + len(item)])
            position += len(item)
        return out

    async def close(self) -> None:
        await self._batcher.close()


@dataclass
class _Tenant:
    integration: Integration
    sitoo: SitooClient
    sender: ProjectSender
    rule: CustomerRule


class Relay:
    def __init__(
        self,
        *,
        repository: RelayRepository,
        integrations: IntegrationRepository,
        outbox_admin: OutboxAdminRepository,
        http: HttpClients,
        settings: Settings,
        metrics: CoreMetrics,
        single_writer: bool,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._repo = repository
        self._integrations = integrations
        self._outbox_admin = outbox_admin
        self._http = http
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        self._tenants: dict[int, _Tenant] = {}
        self._tenants_loaded = 0.0
        # Bumped by settings_changed(); a load records the generation it started under, so a
        # load already running when settings change does not count as fresh.
        self._settings_generation = 0
        self._loaded_generation = 0
        self._tenant_lock = asyncio.Lock()
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
                except (SQLAlchemyError, OSError) as exc:
                    log.error("relay cannot claim: %s", type(exc).__name__)
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
        for tenant in self._tenants.values():
            await tenant.sender.close()

    async def _already_tracked(self, claimed: Sequence[Claimed]) -> set[int]:
        by_integration: dict[int, list[Claimed]] = defaultdict(list)
        for message in claimed:
            by_integration[message.integration_id].append(message)
        ids: set[int] = set()
        for integration_id, messages in by_integration.items():
            keys = await self._repo.tracked(integration_id, [m.order_key for m in messages])
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
        tenant = await self._tenant(message.integration_id)
        if tenant is None:
            return self._failed(message, None, "integration", "integration disabled or missing")
        payload = dict(message.payload)
        if UNREADABLE in payload:
            # Rebuilding from the order could send Bloomreach something other than what it
            # may already hold: an operator decides (the stored payload is left as it was).
            return Completion(
                message, "dead", error=f"prepared commands unreadable: {payload[UNREADABLE]}"
            )
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
                return self._sitoo_failed(message, tenant, exc, payload)
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
            return self._bloomreach_failed(message, tenant, exc, payload)
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

    def _sitoo_failed(
        self, message: Claimed, tenant: _Tenant, exc: SitooError, payload: dict[str, Any]
    ) -> Completion:
        name = tenant.integration.name
        self._metrics.upstream_errors.labels("sitoo", name, type(exc).__name__).inc()
        if isinstance(exc, SitooAuthFailed):
            self._metrics.upstream_auth_alerts.labels("sitoo", name).inc()
        if isinstance(exc, SitooNotFound):
            misses = int(payload.get("not_found", 0)) + 1
            payload = {**payload, "not_found": misses}
            if misses > self._settings.relay_not_found_retries:
                return Completion(
                    message,
                    "dead",
                    error=f"order not found in Sitoo ({misses} tries): {exc}",
                    payload=payload,
                )
            return self._failed(message, payload, "sitoo", str(exc), cap=NOT_FOUND_MAX_DELAY_S)
        retry_after = exc.retry_after_s if isinstance(exc, SitooRateLimited) else None
        if not exc.transient:
            return Completion(message, "dead", error=f"Sitoo: {exc}", payload=payload)
        return self._failed(message, payload, "sitoo", str(exc), retry_after=retry_after)

    def _bloomreach_failed(
        self, message: Claimed, tenant: _Tenant, exc: BloomreachError, payload: dict[str, Any]
    ) -> Completion:
        name = tenant.integration.name
        self._metrics.upstream_errors.labels("bloomreach", name, type(exc).__name__).inc()
        log.warning(
            "bloomreach batch failed",
            extra={
                "integration": name,
                "outbox_id": message.id,
                "error_class": type(exc).__name__,
                "bloomreach_request_id": exc.request_id,
                "error": str(exc),
            },
        )
        if isinstance(exc, BloomreachAuthFailed):
            self._metrics.upstream_auth_alerts.labels("bloomreach", name).inc()
        if not exc.transient:
            # 400 / 401 / 403: Bloomreach stored nothing, so a replay may rebuild commands.
            kept = {k: v for k, v in payload.items() if k != "commands"}
            return Completion(message, "dead", error=f"Bloomreach: {exc}", payload=kept)
        retry_after = exc.retry_after_s if isinstance(exc, BloomreachRateLimited) else None
        return self._failed(message, payload, "bloomreach", str(exc), retry_after=retry_after)

    def _failed(
        self,
        message: Claimed,
        payload: dict[str, Any] | None,
        where: str,
        error: str,
        *,
        retry_after: float | None = None,
        cap: float | None = None,
    ) -> Completion:
        failures = message.attempts + 1
        delay = backoff(self._settings.relay_retry_schedule, failures, self._rng, retry_after)
        text = f"{where}: {error}"
        if delay is None:
            return Completion(
                message, "dead", error=f"{text} (after {failures} attempts)", payload=payload
            )
        if cap is not None:
            delay = min(delay, cap)
        return Completion(
            message, "retry", error=text, available_at=self._clock() + delay, payload=payload
        )

    # ---- tenants ----

    def settings_changed(self) -> None:
        """Re-read integration settings before the next message, not after the cache's TTL
        (``kill -HUP`` on a relay process; tests use it instead of waiting out the TTL)."""
        self._settings_generation += 1

    def _stale(self, integration_id: int, now: float) -> bool:
        return (
            integration_id not in self._tenants
            or now - self._tenants_loaded > self._settings.relay_config_refresh_seconds
            or self._loaded_generation != self._settings_generation
        )

    async def _tenant(self, integration_id: int) -> _Tenant | None:
        now = self._clock()
        if self._stale(integration_id, now):
            async with self._tenant_lock:
                if self._stale(integration_id, now):
                    await self._load_tenants(now)
        tenant = self._tenants.get(integration_id)
        if tenant is None or not tenant.integration.enabled:
            return None
        return tenant

    async def _load_tenants(self, now: float) -> None:
        generation = self._settings_generation
        stored = await self._integrations.list()
        fresh: dict[int, _Tenant] = {}
        for item in stored:
            integration = item.integration
            current = self._tenants.get(integration.id)
            if current is not None and current.integration.updated_at == integration.updated_at:
                fresh[integration.id] = current
                continue
            if current is not None:
                await current.sender.close()
            br, sitoo = integration.bloomreach, integration.sitoo
            project = BloomreachProject(
                br.api_base_url, br.project_token, br.api_key_id, br.api_secret or ""
            )
            account = SitooAccount(
                sitoo.api_base_url, sitoo.account_id, sitoo.api_id, sitoo.api_password or ""
            )
            fresh[integration.id] = _Tenant(
                integration=integration,
                sitoo=SitooClient(self._http, account),
                sender=ProjectSender(
                    BloomreachClient(self._http, project), self._settings, self._metrics
                ),
                rule=CustomerRule(integration.hard_id_name, integration.hard_id_source_field),
            )
        self._tenants = fresh
        self._tenants_loaded = now
        self._loaded_generation = generation

    # ---- group commits ----

    async def _flush_prepare(self, items: list[tuple[Claimed, dict[str, Any]]]) -> list[bool]:
        held = await self._repo.prepare(items, self._clock())
        return [message.id in held for message, _ in items]

    async def _flush_complete(self, items: list[Completion]) -> list[bool]:
        return await self._repo.complete(items, self._clock())

    async def _update_gauges(self, stop: asyncio.Event, interval: float = 15.0) -> None:
        while not stop.is_set():
            with contextlib.suppress(SQLAlchemyError, OSError):
                stats = await self._outbox_admin.stats(None)
                for state, count in stats.counts_by_state.items():
                    self._metrics.outbox_messages.labels(state).set(count)
                self._metrics.outbox_oldest_pending_age.set(stats.oldest_pending_age_seconds)
            await self._wait(stop, stop.wait(), interval)
