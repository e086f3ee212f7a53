"""The outbox gauges on an in-memory stats source (services/ports.py's OutboxStatsSource): a
database that fails for a while leaves the gauges as they were and the loop running."""

from __future__ import annotations

import asyncio

from core_service.domain.errors import StorageUnavailable
from core_service.domain.outbox import OutboxStats
from core_service.metrics import CoreMetrics
from core_service.services.outbox_gauges import refresh_forever


class FlakyStats:
    """Fails the first ``failures`` reads, then answers; ``enough`` is set after ``wanted``
    successful reads."""

    def __init__(self, failures: int, wanted: int) -> None:
        self.failures = failures
        self.wanted = wanted
        self.reads = 0
        self.enough = asyncio.Event()

    async def stats(self, integration: str | None, now: float | None = None) -> OutboxStats:
        self.reads += 1
        if self.reads <= self.failures:
            raise StorageUnavailable("the database is unavailable", "OperationalError")
        if self.reads - self.failures >= self.wanted:
            self.enough.set()
        return OutboxStats({"pending": 3, "dead": 1}, 42.0)


def test_the_gauges_survive_a_database_outage() -> None:
    async def run() -> None:
        metrics = CoreMetrics.create()
        source = FlakyStats(failures=2, wanted=1)
        loop = asyncio.create_task(refresh_forever(source, metrics, interval_s=0.0))
        try:
            await asyncio.wait_for(source.enough.wait(), timeout=10)
            assert not loop.done()  # the failed reads did not end the loop
        finally:
            loop.cancel()
        sample = metrics.registry.get_sample_value
        assert source.reads >= 3
        assert sample("core_outbox_messages", {"state": "pending"}) == 3
        assert sample("core_outbox_messages", {"state": "dead"}) == 1
        assert sample("core_outbox_oldest_pending_age_seconds") == 42.0

    asyncio.run(run())
