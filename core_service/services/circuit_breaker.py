"""A circuit breaker per Bloomreach project (issue 15 §3), so that during an outage the till
does not first pay a timeout on every call.

States: *closed* (calls go out; consecutive failures are counted), *open* (after ``threshold``
consecutive failures: calls are refused at once with :class:`CircuitOpen`, an
``UpstreamUnavailable``, so the caller falls back to its cache or outbox without a network call
or a wait for a slot), *half-open* (the cool-down is over: exactly one caller is let through as
a probe while the others keep falling back). The probe's success closes the circuit; its
failure opens it again for a cool-down twice as long as the last, up to ``max_cool_down_s``.

Only outcomes that say Bloomreach is down count as failures: a timeout, a connection error, a
5xx or a 429. A 400/401/403/404 proves Bloomreach answered, so it counts as a success. A call
that ends without an outcome (shed by the call gate, cancelled) leaves the count alone; if it
was the probe, the next caller probes instead.

The class is pure: no I/O, no asyncio, an injected clock, so every transition is unit-tested
without waiting (tests/unit/test_circuit_breaker.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from core_service.domain.errors import CircuitOpen


class CircuitState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# The value of the state gauge: higher is worse, so an alert can say ``== 2``.
STATE_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class CircuitBreaker:
    """The state machine of one Bloomreach project.

    ``admit()`` before a call (raises :class:`CircuitOpen`, or returns whether the call is the
    half-open probe), then exactly one of ``succeeded``/``failed``/``abandoned`` with that
    value. Outcomes seen elsewhere (the relay) are fed with ``probe=False``.
    """

    def __init__(
        self,
        threshold: int,
        cool_down_s: float,
        max_cool_down_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] = lambda _state: None,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self._threshold = threshold
        self._base_cool_down = cool_down_s
        self._max_cool_down = max(cool_down_s, max_cool_down_s)
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self.consecutive_failures = 0
        self.cool_down_s = cool_down_s  # the current (or next) cool-down
        self._open_until = 0.0
        self._probe_in_flight = False
        self.trips = 0  # times it opened from closed
        self.opened_at: float | None = None  # clock time it last opened from closed

    @property
    def state(self) -> CircuitState:
        """As a caller would find it now: *open* whose cool-down is over reads *half-open*
        (the next caller probes)."""
        if self._state is CircuitState.OPEN and self._clock() >= self._open_until:
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def retry_after_s(self) -> float:
        """Seconds until the next probe may go out (0 when calls go out now)."""
        if self._state is CircuitState.OPEN:
            return max(0.0, self._open_until - self._clock())
        return 0.0

    def admit(self) -> bool:
        """Let a call go out, or raise :class:`CircuitOpen`. True if it is the probe."""
        if self._state is CircuitState.CLOSED:
            return False
        if self._state is CircuitState.OPEN:
            left = self._open_until - self._clock()
            if left > 0:
                raise self._refusal(left)
            self._set(CircuitState.HALF_OPEN)
        if self._probe_in_flight:
            # One probe at a time; the others learn the outcome soon, at the earliest.
            raise self._refusal(1.0)
        self._probe_in_flight = True
        return True

    def succeeded(self, probe: bool = False) -> None:
        """Bloomreach answered (even a 4xx): close, whoever saw it."""
        if probe:
            self._probe_in_flight = False
        self.consecutive_failures = 0
        self.cool_down_s = self._base_cool_down
        if self._state is not CircuitState.CLOSED:
            self._probe_in_flight = False
            self._set(CircuitState.CLOSED)

    def failed(self, probe: bool = False) -> None:
        """Bloomreach was down for this call (timeout, connection error, 5xx, 429)."""
        if self._state is CircuitState.CLOSED:
            self.consecutive_failures += 1
            if self.consecutive_failures >= self._threshold:
                self.trips += 1
                self.opened_at = self._clock()
                self.cool_down_s = self._base_cool_down
                self._open()
            return
        if probe and self._state is CircuitState.HALF_OPEN:
            self._probe_in_flight = False
            self.consecutive_failures += 1
            self.cool_down_s = min(self.cool_down_s * 2, self._max_cool_down)
            self._open()
        # A straggler's or the relay's failure while open changes nothing: the cool-down
        # already runs, and lengthening it on every late failure would never end.

    def abandoned(self, probe: bool = False) -> None:
        """The call ended without telling anything about Bloomreach (shed, cancelled)."""
        if probe and self._probe_in_flight:
            self._probe_in_flight = False

    def _open(self) -> None:
        self._open_until = self._clock() + self.cool_down_s
        self._set(CircuitState.OPEN)

    def _set(self, state: CircuitState) -> None:
        if state is not self._state:
            self._state = state
            self._on_change(state)

    def _refusal(self, left: float) -> CircuitOpen:
        return CircuitOpen(
            f"Bloomreach failed {self._threshold} times in a row for this project; calls are "
            "paused while it recovers",
            retry_after_s=max(1, math.ceil(left)),
        )
