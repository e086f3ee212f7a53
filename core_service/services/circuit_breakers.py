"""The circuit breakers of all Bloomreach projects, and the guard the customer path calls
through (issue 15 §3; the state machine is :mod:`core_service.services.circuit_breaker`).

A breaker belongs to a *project* (API base URL + project token): two integrations on the same
project share one, so an outage one till saw spares the other's tills the timeout. Metrics and
reports name a project by a short digest, never by its token. The relay feeds its outcomes to
the same breakers (``record``) but is never refused by them: it has its own retry schedule.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core_service.domain.errors import (
    CircuitOpen,
    DomainError,
    Overloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import Integration
from core_service.metrics import CoreMetrics
from core_service.services.circuit_breaker import STATE_VALUES, CircuitBreaker

__all__ = ["CircuitBreakers", "CircuitOpen", "CircuitStatus", "project_digest"]


@functools.lru_cache(maxsize=1024)  # asked twice per card read; a hash each time otherwise
def project_digest(api_base_url: str, project_token: str) -> str:
    """Names a project in metrics and reports without its token."""
    material = f"{api_base_url.rstrip('/')}\0{project_token}".encode()
    return hashlib.sha256(material).hexdigest()[:12]


@dataclass(frozen=True)
class CircuitStatus:
    """What `integration validate` and the console show of one project's breaker."""

    project: str  # digest
    state: str  # closed, half_open, open
    consecutive_failures: int
    retry_after_s: float  # until the next probe may go out
    cool_down_s: float
    trips: int
    opened_seconds_ago: float | None  # since it last opened from closed; None if never
    integrations: tuple[str, ...]


class CircuitBreakers:
    def __init__(
        self,
        threshold: int,
        cool_down_s: float,
        max_cool_down_s: float,
        metrics: CoreMetrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cool_down = cool_down_s
        self._max_cool_down = max_cool_down_s
        self._metrics = metrics
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._project_of: dict[str, str] = {}  # integration name -> project digest

    @property
    def enabled(self) -> bool:
        return self._threshold > 0

    def for_integration(self, integration: Integration) -> CircuitBreaker | None:
        """The breaker of the integration's project (None when breakers are off)."""
        if not self.enabled:
            return None
        access = integration.bloomreach
        digest = project_digest(access.api_base_url, access.project_token)
        breaker = self._breakers.get(digest)
        if breaker is None:
            breaker = CircuitBreaker(
                self._threshold, self._cool_down, self._max_cool_down, clock=self._clock
            )
            self._breakers[digest] = breaker
        name = integration.name
        previous = self._project_of.get(name)
        if previous != digest:
            self._project_of[name] = digest
            self._export(name, digest, previous, breaker)
        return breaker

    def _export(
        self, name: str, digest: str, previous: str | None, breaker: CircuitBreaker
    ) -> None:
        if self._metrics is None:
            return
        gauge = self._metrics.bloomreach_circuit_state
        if previous is not None:
            gauge.remove(name, previous)  # the integration moved to another project
        gauge.labels(name, digest).set_function(lambda: STATE_VALUES[breaker.state])
        self._metrics.bloomreach_short_circuited.labels(name)  # exported at 0

    def status(self, integration: Integration) -> CircuitStatus | None:
        breaker = self.for_integration(integration)
        if breaker is None:
            return None
        digest = self._project_of[integration.name]
        opened = breaker.opened_at
        return CircuitStatus(
            project=digest,
            state=breaker.state.value,
            consecutive_failures=breaker.consecutive_failures,
            retry_after_s=breaker.retry_after_s,
            cool_down_s=breaker.cool_down_s,
            trips=breaker.trips,
            opened_seconds_ago=None if opened is None else self._clock() - opened,
            integrations=tuple(sorted(n for n, d in self._project_of.items() if d == digest)),
        )

    def record(self, integration: Integration, *, success: bool) -> None:
        """An outcome seen outside the guard (the relay's sends)."""
        breaker = self.for_integration(integration)
        if breaker is None:
            return
        if success:
            breaker.succeeded()
        else:
            breaker.failed()

    def guard(self, integration: Integration) -> _Guard:
        """Around one customer-path call (``async with``): refused at once while the
        project's circuit is open; the call's outcome is fed back."""
        return _Guard(self.for_integration(integration), integration.name, self._metrics)


class _Guard:
    """``CircuitBreakers.guard``: a class rather than a generator, as it wraps every
    Bloomreach call of the customer path (a generator context costs several times more)."""

    __slots__ = ("_breaker", "_metrics", "_name", "_probe")

    def __init__(
        self, breaker: CircuitBreaker | None, name: str, metrics: CoreMetrics | None
    ) -> None:
        self._breaker = breaker  # None: breakers are off
        self._name = name
        self._metrics = metrics
        self._probe = False

    async def __aenter__(self) -> None:
        breaker = self._breaker
        if breaker is None:
            return
        try:
            self._probe = breaker.admit()
        except CircuitOpen:
            if self._metrics is not None:
                self._metrics.bloomreach_short_circuited.labels(self._name).inc()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: Any
    ) -> None:
        breaker = self._breaker
        if breaker is None:
            return
        if exc is None:
            breaker.succeeded(self._probe)
            return
        outcome = classify(exc)
        if outcome == "failed":
            breaker.failed(self._probe)
        elif outcome == "succeeded":
            breaker.succeeded(self._probe)
        else:
            breaker.abandoned(self._probe)


def classify(exc: BaseException) -> str:
    """What an exception out of a guarded call says about Bloomreach."""
    if isinstance(exc, Overloaded):
        return "abandoned"  # shed by the call gate: no call went out
    if isinstance(exc, UpstreamTimeout | UpstreamRateLimited | UpstreamUnavailable):
        return "failed"  # timeout, 429, 5xx, connection error, malformed answer
    if isinstance(exc, DomainError):
        return "succeeded"  # Bloomreach answered: 400/401/403/404 and the like
    return "abandoned"  # cancelled, or a fault of ours
