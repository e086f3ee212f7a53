"""Wait for a condition, never for a fixed time.

A test that sleeps "long enough" for another process passes on an idle machine and fails on a
loaded one. These poll a condition until it holds or a generous bound passes; the bound is a
guard against hanging, not a timing check (speed is measured by ``python -m bench``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

LIMIT_S = 60.0
INTERVAL_S = 0.05


class NotReached(AssertionError):
    """The condition did not hold within the bound; says what was last seen."""


def _missed(description: str, limit_s: float, last: object) -> NotReached:
    what = description or "condition"
    return NotReached(f"{what} not reached within {limit_s} s; last: {last!r}")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    *,
    limit_s: float = LIMIT_S,
    interval_s: float = INTERVAL_S,
    description: str = "",
) -> T:
    """Await ``probe()`` until ``until(result)`` holds; return that result."""
    deadline = time.monotonic() + limit_s
    while True:
        last = await probe()
        if until(last):
            return last
        if time.monotonic() >= deadline:
            raise _missed(description, limit_s, last)
        await asyncio.sleep(interval_s)


def eventually_sync(
    probe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    limit_s: float = LIMIT_S,
    interval_s: float = INTERVAL_S,
    description: str = "",
) -> T:
    """``eventually`` for tests without an event loop (Playwright's sync API, subprocesses)."""
    deadline = time.monotonic() + limit_s
    while True:
        last = probe()
        if until(last):
            return last
        if time.monotonic() >= deadline:
            raise _missed(description, limit_s, last)
        time.sleep(interval_s)
