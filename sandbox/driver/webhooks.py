"""Sitoo's event queue delivering Events SPI webhooks to the edge.

Spec: ``sitoo-events-and-orders.md`` Part A and §10.1. The sender keeps a queue of events in
chronological order and POSTs them to ``{base}/events`` in batches of at most
:data:`sandbox.driver.sitoo_contract.MAX_EVENTS_PER_BATCH`, one batch at a time. A batch that gets a
temporary answer (or no answer within 15 s) is retried on Sitoo's schedule, and **nothing else
is sent meanwhile** (head-of-line blocking); after the retry window the batch is dropped and the
queue moves on. Every attempt is written to :attr:`EventSender.log`.

Time is injectable: ``sleep`` replaces :func:`asyncio.sleep` and ``compression`` divides every
schedule delay, so a 24 h retry window can run in milliseconds.

The events, the retry rules and the delivery records are in :mod:`sandbox.driver.webhook_events`;
this module is the queue that sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from sandbox.driver.pos_client import basic_auth
from sandbox.driver.sitoo_contract import EVENTS, MAX_EVENTS_PER_BATCH, integration_path
from sandbox.driver.webhook_events import (
    ALWAYS_DISCARD_STATUSES,
    CURRENT_RETRY_STATUSES,
    EVENT_ID_RE,
    EVENT_TYPES,
    ORDER_EVENT_TYPES,
    ORDER_STATES,
    WEBHOOK_TIMEOUT_S,
    BatchResult,
    DeliveryAttempt,
    Event,
    Outcome,
    RetryRule,
    RetrySchedule,
    classify,
    new_event_id,
    order_event,
)


@dataclass
class _Batch:
    batch_no: int
    events: tuple[Event, ...]
    body: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.body = json.dumps([e.to_json() for e in self.events]).encode("utf-8")

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(e.event_id for e in self.events)


Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class EventSender:
    """Sitoo's event queue for one Events subscription.

    ``base_url`` is the subscription's ``base_url``; the sender POSTs to ``{base_url}/events``.
    Use :meth:`for_integration` to build it from the edge root and integration name.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        rule: RetryRule = RetryRule.CURRENT,
        schedule: RetrySchedule | None = None,
        compression: float = 1.0,
        timeout_s: float = WEBHOOK_TIMEOUT_S,
        batch_size: int = MAX_EVENTS_PER_BATCH,
        duplicate_probability: float = 0.0,
        seed: int | None = None,
        sleep: Sleep | None = None,
        clock: Clock = time.monotonic,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_EVENTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_EVENTS_PER_BATCH}")
        if compression <= 0:
            raise ValueError("compression must be positive")
        if not 0.0 <= duplicate_probability <= 1.0:
            raise ValueError("duplicate_probability must be between 0 and 1")
        self.url = URL(base_url.rstrip("/") + EVENTS.path)
        self.authorization = basic_auth(username, password or "") if username is not None else None
        self.rule = rule
        self.schedule = schedule or RetrySchedule()
        self.compression = compression
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.duplicate_probability = duplicate_probability
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not crypto
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock = clock
        self._session = session
        self._own_session = session is None
        self._pending: list[Event] = []
        self._batches: dict[int, _Batch] = {}
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.log: list[DeliveryAttempt] = []
        self.results: list[BatchResult] = []

    @classmethod
    def for_integration(cls, edge_url: str, integration: str, **kwargs: Any) -> EventSender:
        base = edge_url.rstrip("/") + integration_path(integration, EVENTS)
        return cls(base.removesuffix(EVENTS.path), **kwargs)

    async def __aenter__(self) -> EventSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10))
            self._own_session = True
        return self._session

    async def close(self) -> None:
        await self.stop()
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # --- queue -----------------------------------------------------------------------------

    def enqueue(self, *events: Event) -> None:
        """Add events; they are sent in chronological (``event_date``) order, ties FIFO."""
        self._pending.extend(events)
        self._pending.sort(key=lambda e: e.event_date)  # stable: ties keep arrival order
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> list[BatchResult]:
        """Deliver everything queued, one batch at a time; returns this call's batch results."""
        async with self._lock:
            results: list[BatchResult] = []
            while self._pending:
                events = tuple(self._pending[: self.batch_size])
                del self._pending[: self.batch_size]
                batch = _Batch(len(self._batches) + 1, events)
                self._batches[batch.batch_no] = batch
                result = await self._deliver(batch, duplicate=False)
                results.append(result)
                if (
                    result.outcome is Outcome.DELIVERED
                    and self.duplicate_probability
                    and self.rng.random() < self.duplicate_probability
                ):
                    results.append(await self._deliver(batch, duplicate=True))
            return results

    async def send(self, events: Iterable[Event]) -> list[BatchResult]:
        self.enqueue(*events)
        return await self.flush()

    async def redeliver(self, batch_no: int) -> BatchResult:
        """Send an already-acknowledged batch again: same body, same ``event_id``s."""
        batch = self._batches.get(batch_no)
        if batch is None:
            raise KeyError(f"no batch {batch_no}")
        async with self._lock:
            return await self._deliver(batch, duplicate=True)

    def start(self) -> None:
        """Run a background worker that flushes whenever events are enqueued."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def drain(self) -> None:
        """Wait until the queue is empty (joins the background worker's current flush)."""
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()

    # --- delivery ----------------------------------------------------------------------------

    async def _deliver(self, batch: _Batch, *, duplicate: bool) -> BatchResult:
        attempt = 0
        elapsed = 0.0
        while True:
            attempt += 1
            status, error = await self._post(batch.body, self.authorization)
            outcome = classify(status, self.rule)
            reason = _reason(status, error, outcome, self.rule)
            next_delay: float | None = None
            if outcome is Outcome.RETRIED:
                if attempt > len(self.schedule.delays_s):
                    outcome = Outcome.DROPPED
                    reason = f"retry window expired after {attempt} attempts ({reason})"
                else:
                    next_delay = self.schedule.delays_s[attempt - 1]
            self.log.append(
                DeliveryAttempt(
                    batch_no=batch.batch_no,
                    attempt=attempt,
                    event_ids=batch.event_ids,
                    status=status,
                    outcome=outcome,
                    duplicate=duplicate,
                    error=error,
                    reason=reason,
                    elapsed_spec_s=elapsed,
                    next_retry_in_s=next_delay,
                    at=self._clock(),
                )
            )
            if next_delay is None:
                result = BatchResult(batch.batch_no, batch.event_ids, outcome, attempt, duplicate)
                self.results.append(result)
                return result
            elapsed += next_delay
            await self._sleep(next_delay / self.compression)

    async def _post(self, body: bytes, authorization: str | None) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            async with self.session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                await response.read()
                return response.status, None
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as exc:
            return None, f"connection: {exc.__class__.__name__}: {exc}"

    async def post_raw(self, payload: Any, *, auth: tuple[str, str] | bool = True) -> int | None:
        """POST any JSON once, outside the queue (malformed bodies, wrong credentials).

        ``auth=True`` uses the sender's credential, ``False`` sends none, a ``(user, password)``
        pair sends that instead.
        """
        basic: str | None = None
        if auth is True:
            basic = self.authorization
        elif isinstance(auth, tuple):
            basic = basic_auth(*auth)
        status, _ = await self._post(json.dumps(payload).encode("utf-8"), basic)
        return status

    # --- log helpers ---------------------------------------------------------------------

    def delivered_event_ids(self) -> list[str]:
        return [i for r in self.results if r.outcome is Outcome.DELIVERED for i in r.event_ids]

    def dropped_event_ids(self) -> list[str]:
        return [i for r in self.results if r.outcome is Outcome.DROPPED for i in r.event_ids]

    def summary(self) -> dict[str, Any]:
        originals = [r for r in self.results if not r.duplicate]
        return {
            "batches": len(originals),
            "delivered_batches": sum(r.outcome is Outcome.DELIVERED for r in originals),
            "dropped_batches": sum(r.outcome is Outcome.DROPPED for r in originals),
            "duplicate_deliveries": sum(r.duplicate for r in self.results),
            "attempts": len(self.log),
            "retries": sum(a.outcome is Outcome.RETRIED for a in self.log),
            "events_delivered": len({i for i in self.delivered_event_ids()}),
            "events_dropped": len(self.dropped_event_ids()),
        }


def _reason(status: int | None, error: str | None, outcome: Outcome, rule: RetryRule) -> str:
    if status is None:
        return f"no answer ({error})"
    if outcome is Outcome.DELIVERED:
        return "200"
    verb = "temporary" if outcome is Outcome.RETRIED else "not temporary"
    return f"{status} is {verb} under the {rule.value} rule"


# Callers import the whole driver API of this part from here.
__all__ = [
    "ALWAYS_DISCARD_STATUSES",
    "CURRENT_RETRY_STATUSES",
    "EVENT_ID_RE",
    "EVENT_TYPES",
    "ORDER_EVENT_TYPES",
    "ORDER_STATES",
    "WEBHOOK_TIMEOUT_S",
    "BatchResult",
    "Clock",
    "DeliveryAttempt",
    "Event",
    "EventSender",
    "Outcome",
    "RetryRule",
    "RetrySchedule",
    "Sleep",
    "classify",
    "new_event_id",
    "order_event",
]
