"""The per-integration token bucket for malformed webhook batches, on a hand-moved clock."""

from __future__ import annotations

import pytest

from core_service.services.quarantine_limit import MalformedBatchLimiter


def test_burst_then_one_batch_per_refill_and_buckets_per_integration() -> None:
    now = [1000.0]
    limiter = MalformedBatchLimiter(per_minute=6.0, burst=3, clock=lambda: now[0])
    assert [limiter.take(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(1) == pytest.approx(10.0)  # 6 per minute: one every 10 s
    assert limiter.take(2) == 0.0  # another integration has its own bucket
    now[0] += 4.0
    assert limiter.take(1) == pytest.approx(6.0)
    now[0] += 6.0
    assert limiter.take(1) == 0.0
    # A long quiet spell refills up to the burst, not beyond.
    now[0] += 3600.0
    assert [limiter.take(1) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert limiter.take(1) > 0
