"""Two small concurrency tools the relay is built from: a group-commit batcher and a pacing
rate limiter. Both are generic; neither knows about outboxes or vendors."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Callers ``submit`` one item and await its result. ``concurrency`` workers each take a
    batch (up to ``max_weight``), after waiting up to ``linger_s`` for it to fill and then for
    the ``gate`` (e.g. a rate limiter), so that items arriving meanwhile still ride along: a
    paced upstream gets full batches. A flush that raises fails every item it carried."""

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_weight: int,
        linger_s: float,
        concurrency: int,
        weight: Callable[[T], int] = lambda _item: 1,
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._flush = flush
        self._max = max_weight
        self._linger = linger_s
        self._weight = weight
        self._gate = gate
        self._concurrency = concurrency
        self._queue: deque[tuple[T, asyncio.Future[R], int]] = deque()
        self._load = 0
        self._ready = asyncio.Event()
        self._full = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def submit(self, item: T) -> R:
        if not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        weight = self._weight(item)
        self._queue.append((item, future, weight))
        self._load += weight
        self._ready.set()
        if self._load >= self._max:
            self._full.set()
        return await future

    def _take(self) -> list[tuple[T, asyncio.Future[R], int]]:
        taken: list[tuple[T, asyncio.Future[R], int]] = []
        weight = 0
        while self._queue and (not taken or weight + self._queue[0][2] <= self._max):
            entry = self._queue.popleft()
            taken.append(entry)
            weight += entry[2]
        self._load -= weight
        if not self._queue:
            self._ready.clear()
        if self._load < self._max:
            self._full.clear()
        return taken

    async def _work(self) -> None:
        while True:
            await self._ready.wait()
            if self._linger > 0 and self._load < self._max:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._linger)
            if self._gate is not None and self._queue:
                await self._gate()
            taken = self._take()
            if not taken:
                continue
            try:
                results = await self._flush([item for item, _, _ in taken])
            except Exception as exc:  # handed to every caller, who decides what it means
                for _, future, _ in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future, _), result in zip(taken, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []


class RateLimiter:
    """Paces calls to ``rate`` per second (no bursts), and pauses everyone when the upstream
    says ``Retry-After``."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._clock() + seconds)
