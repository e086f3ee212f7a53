"""How fast one integration may fill the quarantine: a token bucket per integration.

A malformed batch is stored verbatim for an operator, so each one costs up to a request body
of storage; the caps in the repository bound the total, this bounds the churn. The buckets
live in the core process (one per integration that sent something malformed), so with
several cores each has its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MalformedBatchLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, integration_id: int) -> float:
        """0 when the batch may be quarantined (a token is taken), else the seconds until the
        next token."""
        now = self._clock()
        bucket = self._buckets.get(integration_id)
        if bucket is None:
            bucket = self._buckets[integration_id] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate
