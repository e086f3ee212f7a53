"""One Bloomreach project's sender: the commands of many orders packed into paced ``batch``
calls (at most ``MAX_BATCH_COMMANDS`` each, within the project's request budget)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from core_service.domain.bloomreach_api import (
    MAX_BATCH_COMMANDS,
    BloomreachError,
    BloomreachRateLimited,
    BloomreachTimeout,
    BloomreachUnavailable,
    CommandResult,
)
from core_service.metrics import CoreMetrics
from core_service.services.batching import Batcher, RateLimiter
from core_service.services.upstream_ports import BloomreachApi
from runtime.settings import Settings


class ProjectSender:
    """Commands of many orders into paced ``batch`` calls of one Bloomreach project."""

    def __init__(
        self,
        client: BloomreachApi,
        settings: Settings,
        metrics: CoreMetrics,
        *,
        on_outcome: Callable[[bool], None] | None = None,
    ) -> None:
        self._client = client
        # Told whether Bloomreach was up for each call (the project's circuit breaker).
        self._on_outcome = on_outcome
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

    async def send(
        self, commands: Sequence[dict[str, Any]], *, ordered: bool = False
    ) -> list[CommandResult]:
        # An order of more than 50 commands travels in several batches (same ids, same
        # timestamp), as Bloomreach advises for large receipts. ``ordered`` (a customer's
        # queued commands) sends the chunks one after the other, so that none overtakes an
        # earlier one.
        chunks = [
            list(commands[i : i + MAX_BATCH_COMMANDS])
            for i in range(0, len(commands), MAX_BATCH_COMMANDS)
        ]
        if ordered:
            results = [await self._batcher.submit(chunk) for chunk in chunks]
        else:
            results = list(await asyncio.gather(*(self._batcher.submit(chunk) for chunk in chunks)))
        return [result for chunk in results for result in chunk]

    async def _flush(self, items: list[list[dict[str, Any]]]) -> list[list[CommandResult]]:
        flat = [command for item in items for command in item]
        self._metrics.relay_batch_commands.observe(len(flat))
        started = time.perf_counter()
        try:
            results = await self._client.batch(flat, self._timeout)
        except BloomreachRateLimited as exc:
            self._tell(up=False)
            self.limiter.pause(exc.retry_after_s if exc.retry_after_s is not None else 1.0)
            raise
        except (BloomreachTimeout, BloomreachUnavailable):
            self._tell(up=False)
            raise
        except BloomreachError:
            self._tell(up=True)  # refused (400/401/403): Bloomreach is up
            raise
        else:
            self._tell(up=True)
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

    def _tell(self, *, up: bool) -> None:
        if self._on_outcome is not None:
            self._on_outcome(up)

    async def close(self) -> None:
        await self._batcher.close()
