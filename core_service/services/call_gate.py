"""Deadline-aware admission of the customer path's Bloomreach calls, per integration.

Without it, a slow Bloomreach project collapses (issue 11): requests queued for a pooled
connection until their deadline was nearly gone, then started calls they could not finish,
so the pool was busy with work nobody would receive. Here each integration has ``slots``
calls in flight at most (its own connection pool has exactly that many connections, so no
request waits inside the HTTP client) and a FIFO queue in front of them. A request is let in
only if, by the running latency estimate, it can get a slot *and* finish its call within the
caller's remaining time; otherwise it is refused at once with ``Overloaded`` (503 with
``Retry-After`` at the edge), and waiters whose time has run out are refused as soon as that
is known, instead of taking a slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from core_service.domain.errors import Overloaded, UpstreamTimeout
from core_service.metrics import CoreMetrics
from core_service.services.deadline import Deadline

# A call that timed out took longer than its timeout, by how much is unknown: it is counted
# as this multiple of the timeout, so that a project slower than the timeout cap ends up
# estimated above it and only a lone probe call goes out until it is fast again.
TIMED_OUT_FACTOR = 1.5
MAX_RETRY_AFTER_S = 30


class LatencyEstimate:
    """Smoothed mean and mean deviation of recent calls (Jacobson/Karels, as TCP's RTO)."""

    def __init__(self, *, gain: float = 0.2, deviation_gain: float = 0.25) -> None:
        self._gain = gain
        self._deviation_gain = deviation_gain
        self.mean = 0.0
        self.deviation = 0.0
        self.samples = 0

    def observe(self, seconds: float) -> None:
        if self.samples == 0:
            self.mean, self.deviation = seconds, seconds / 2
        else:
            error = seconds - self.mean
            self.mean += self._gain * error
            self.deviation += self._deviation_gain * (abs(error) - self.deviation)
        self.samples += 1

    @property
    def needed(self) -> float:
        """Time to keep for one call: the mean plus two deviations and a little headroom.
        Nothing is known before the first call, which is then let through."""
        if self.samples == 0:
            return 0.0
        return self.mean + 2 * self.deviation + max(0.1 * self.mean, 0.05)


@dataclass(eq=False)
class _Waiter:
    deadline: Deadline
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _granted(waiter: _Waiter) -> bool:
    future = waiter.granted
    return future.done() and not future.cancelled() and future.exception() is None


class CallGate:
    """The admission of one integration's Bloomreach calls."""

    def __init__(
        self,
        slots: int,
        max_queued: int,
        *,
        on_shed: Callable[[str], None] = lambda _reason: None,
        on_estimate: Callable[[float], None] = lambda _seconds: None,
    ) -> None:
        self._slots = slots
        self._max_queued = max_queued
        self._busy = 0
        # When each call in flight started, to predict when slots free up: with calls of
        # similar length they free up in the order they started, not evenly spread.
        self._starts: dict[object, float] = {}
        self._waiters: deque[_Waiter] = deque()
        self._on_shed = on_shed
        self._on_estimate = on_estimate
        self.estimate = LatencyEstimate()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def _fits(self, deadline: Deadline, cap: float, wait: float = 0.0) -> bool:
        return wait + self.estimate.needed <= min(cap, deadline.left())

    def _wait_for_slot(self, ahead: int) -> float:
        """Expected wait for a slot with ``ahead`` requests queued in front: the slot of the
        (ahead+1)-th oldest call frees first, later rounds a mean call each."""
        mean = self.estimate.mean
        starts = sorted(self._starts.values())
        if not starts:
            return mean * (ahead + 1) / self._slots
        rounds, index = divmod(ahead, len(starts))
        return max(0.0, starts[index] + mean * (rounds + 1) - time.monotonic())

    def _shed(self, reason: str) -> Overloaded:
        self._on_shed(reason)
        # Roughly when a slot would be free for a newcomer.
        wait = self._wait_for_slot(len(self._waiters))
        retry_after = min(MAX_RETRY_AFTER_S, max(1, math.ceil(wait)))
        return Overloaded(
            "Bloomreach is answering too slowly for this request to finish in time; retry later",
            retry_after_s=retry_after,
        )

    async def _admit(self, deadline: Deadline, cap: float) -> None:
        if self._busy < self._slots and not self._waiters:
            # A lone call always goes out (a probe), so the estimate can learn that an
            # upstream which was too slow is fast again.
            if self._busy > 0 and not self._fits(deadline, cap):
                raise self._shed("no_time")
            self._busy += 1
            return
        if len(self._waiters) >= self._max_queued:
            raise self._shed("queue_full")
        if not self._fits(deadline, cap, self._wait_for_slot(len(self._waiters))):
            raise self._shed("no_time")
        waiter = _Waiter(deadline)
        self._waiters.append(waiter)
        try:
            # The latest moment this request could still start a call it can finish.
            latest = deadline.left() - self.estimate.needed
            async with asyncio.timeout(max(0.0, latest)):
                await waiter.granted
        except TimeoutError:
            if _granted(waiter):
                self._release()  # granted as the timer fired: pass the slot on
            else:
                self._forget(waiter)
            raise self._shed("no_time") from None
        except BaseException:
            # Refused by a release (already counted), or the caller went away.
            if _granted(waiter):
                self._release()
            else:
                self._forget(waiter)
            raise
        if not self._fits(deadline, cap):
            self._release()
            raise self._shed("no_time")

    def _forget(self, waiter: _Waiter) -> None:
        with suppress(ValueError):
            self._waiters.remove(waiter)

    def _release(self) -> None:
        """Hand the slot to the first waiter that can still finish; refuse those that cannot
        (they learn it now rather than when their deadline is gone)."""
        needed = self.estimate.needed
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.granted.done():
                continue
            if waiter.deadline.left() < needed:
                waiter.granted.set_exception(self._shed("no_time"))
                continue
            waiter.granted.set_result(None)
            return
        self._busy -= 1

    def call(self, deadline: Deadline, cap: float) -> _Slot:
        """Hold a slot for one upstream call (``async with``); yields its timeout (at most
        ``cap``)."""
        return _Slot(self, deadline, cap)

    def _observe(self, seconds: float) -> None:
        self.estimate.observe(seconds)
        self._on_estimate(self.estimate.mean)


class _Slot:
    """``CallGate.call``: a class rather than a generator, as it wraps every Bloomreach call
    of the customer path (a generator context costs several times more)."""

    __slots__ = ("_cap", "_deadline", "_gate", "_started", "_timeout", "_token")

    def __init__(self, gate: CallGate, deadline: Deadline, cap: float) -> None:
        self._gate = gate
        self._deadline = deadline
        self._cap = cap
        self._token = object()
        self._started = 0.0
        self._timeout = 0.0

    async def __aenter__(self) -> float:
        gate = self._gate
        await gate._admit(self._deadline, self._cap)
        self._started = time.monotonic()
        gate._starts[self._token] = self._started
        try:
            self._timeout = self._deadline.timeout(self._cap)
        except BaseException:
            del gate._starts[self._token]
            gate._release()
            raise
        return self._timeout

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: Any
    ) -> None:
        gate = self._gate
        try:
            took = time.monotonic() - self._started
            if isinstance(exc, UpstreamTimeout):
                gate._observe(max(took, self._timeout) * TIMED_OUT_FACTOR)
            elif not isinstance(exc, asyncio.CancelledError):
                gate._observe(took)  # answered, or failed otherwise
        finally:
            del gate._starts[self._token]
            gate._release()


class GuardedSlot:
    """``async with guard, slot as timeout`` as one context (the customer path's every
    Bloomreach call): the guard is entered first and sees what the slot lets through."""

    __slots__ = ("_guard", "_slot")

    def __init__(self, guard: AbstractAsyncContextManager[None], slot: _Slot) -> None:
        self._guard = guard
        self._slot = slot

    async def __aenter__(self) -> float:
        await self._guard.__aenter__()
        try:
            return await self._slot.__aenter__()
        except BaseException as exc:
            await self._guard.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        try:
            await self._slot.__aexit__(exc_type, exc, tb)
        except BaseException as raised:
            await self._guard.__aexit__(type(raised), raised, raised.__traceback__)
            raise
        await self._guard.__aexit__(exc_type, exc, tb)


class CallGates:
    """One gate per integration (by name), made on first use."""

    def __init__(self, slots: int, max_queued: int, metrics: CoreMetrics | None = None) -> None:
        self._slots = slots
        self._max_queued = max_queued
        self._metrics = metrics
        self._gates: dict[str, CallGate] = {}

    @property
    def slots(self) -> int:
        return self._slots

    def for_integration(self, name: str) -> CallGate:
        gate = self._gates.get(name)
        if gate is None:
            metrics = self._metrics
            if metrics is None:
                gate = CallGate(self._slots, self._max_queued)
            else:
                shed = metrics.bloomreach_shed
                for reason in ("queue_full", "no_time"):  # exported at 0 until the first shed
                    shed.labels(name, reason)
                estimate = metrics.bloomreach_latency_estimate.labels(name)
                gate = CallGate(
                    self._slots,
                    self._max_queued,
                    on_shed=lambda reason: shed.labels(name, reason).inc(),
                    on_estimate=estimate.set,
                )
            self._gates[name] = gate
        return gate
