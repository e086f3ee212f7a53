"""The circuit breaker's state machine (issue 15 §3), every transition, on an injected clock."""

from __future__ import annotations

import pytest

from core_service.domain.errors import CircuitOpen, UpstreamUnavailable
from core_service.services.circuit_breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(
    clock: Clock, *, threshold: int = 3, cool_down: float = 5.0, max_cool_down: float = 30.0
) -> tuple[CircuitBreaker, list[CircuitState]]:
    changes: list[CircuitState] = []
    made = CircuitBreaker(
        threshold, cool_down, max_cool_down, clock=clock, on_change=changes.append
    )
    return made, changes


def state(b: CircuitBreaker) -> CircuitState:
    """Read anew each time (mypy would narrow ``b.state`` across assertions)."""
    return b.state


def trip(b: CircuitBreaker, failures: int) -> None:
    for _ in range(failures):
        b.failed(b.admit())


def test_closed_lets_calls_through_and_is_not_a_probe() -> None:
    b, changes = breaker(Clock())
    assert state(b) is CircuitState.CLOSED
    assert b.admit() is False
    b.succeeded(False)
    assert state(b) is CircuitState.CLOSED
    assert changes == []


def test_opens_after_threshold_consecutive_failures_only() -> None:
    b, changes = breaker(Clock(), threshold=3)
    trip(b, 2)
    assert state(b) is CircuitState.CLOSED
    assert b.consecutive_failures == 2
    trip(b, 1)
    assert state(b) is CircuitState.OPEN
    assert changes == [CircuitState.OPEN]
    assert b.trips == 1


def test_a_success_resets_the_count() -> None:
    b, _ = breaker(Clock(), threshold=3)
    trip(b, 2)
    b.succeeded(b.admit())
    trip(b, 2)
    assert state(b) is CircuitState.CLOSED
    assert b.consecutive_failures == 2


def test_open_refuses_at_once_with_an_upstream_unavailable_and_retry_after() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=1, cool_down=5.0)
    trip(b, 1)
    clock.now += 1.2
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert isinstance(refused.value, UpstreamUnavailable)  # what the fallbacks catch
    assert refused.value.retry_after_s == 4  # ceil(3.8)
    assert b.retry_after_s == pytest.approx(3.8)


def test_after_the_cool_down_exactly_one_probe_goes_out() -> None:
    clock = Clock()
    b, changes = breaker(clock, threshold=1, cool_down=5.0)
    trip(b, 1)
    clock.now += 5.0
    assert state(b) is CircuitState.HALF_OPEN  # as the next caller finds it
    assert b.admit() is True  # the probe
    # Concurrent callers while the probe is in flight fall back at once.
    for _ in range(3):
        with pytest.raises(CircuitOpen):
            b.admit()
    assert state(b) is CircuitState.HALF_OPEN
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN]


def test_a_successful_probe_closes() -> None:
    clock = Clock()
    b, changes = breaker(clock, threshold=2, cool_down=5.0)
    trip(b, 2)
    clock.now += 5.0
    probe = b.admit()
    b.succeeded(probe)
    assert state(b) is CircuitState.CLOSED
    assert b.consecutive_failures == 0
    assert b.admit() is False
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_a_probe_answered_with_a_client_error_counts_as_up() -> None:
    # The guard maps 400/401/403/404 to succeeded(): Bloomreach answered.
    clock = Clock()
    b, _ = breaker(clock, threshold=1)
    trip(b, 1)
    clock.now += 5.0
    b.succeeded(b.admit())
    assert state(b) is CircuitState.CLOSED


def test_a_failed_probe_reopens_with_a_doubled_cool_down_up_to_the_cap() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=1, cool_down=5.0, max_cool_down=30.0)
    trip(b, 1)
    waits = []
    for _ in range(5):
        waits.append(b.cool_down_s)
        clock.now += b.cool_down_s - 0.01
        with pytest.raises(CircuitOpen):
            b.admit()  # not yet
        clock.now += 0.01
        b.failed(b.admit())
        assert state(b) is CircuitState.OPEN
    assert waits == [5.0, 10.0, 20.0, 30.0, 30.0]
    assert b.trips == 1  # one outage, many probes


def test_recovery_resets_the_cool_down_to_the_base() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=1, cool_down=5.0)
    trip(b, 1)
    clock.now += 5.0
    b.failed(b.admit())
    clock.now += 10.0
    b.succeeded(b.admit())
    trip(b, 1)
    assert b.cool_down_s == 5.0
    assert b.trips == 2


def test_an_abandoned_probe_lets_the_next_caller_probe() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=1)
    trip(b, 1)
    clock.now += 5.0
    probe = b.admit()
    b.abandoned(probe)  # shed by the call gate or cancelled: nothing learned
    assert state(b) is CircuitState.HALF_OPEN
    assert b.admit() is True


def test_abandoned_calls_do_not_count_when_closed() -> None:
    b, _ = breaker(Clock(), threshold=2)
    b.failed(b.admit())
    b.abandoned(b.admit())
    assert b.consecutive_failures == 1
    assert state(b) is CircuitState.CLOSED


def test_concurrent_half_open_callers_probe_failure_keeps_them_out() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=1, cool_down=5.0)
    trip(b, 1)
    clock.now += 5.0
    probe = b.admit()
    with pytest.raises(CircuitOpen):
        b.admit()
    b.failed(probe)
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert refused.value.retry_after_s == 10  # the doubled cool-down


def test_a_straggler_failure_while_open_does_not_extend_the_cool_down() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=2, cool_down=5.0)
    early = b.admit()  # went out before the circuit opened
    trip(b, 2)
    clock.now += 4.0
    b.failed(early)
    clock.now += 1.0
    assert b.admit() is True


def test_an_outcome_fed_from_elsewhere_counts_and_closes() -> None:
    # The relay: failed()/succeeded() without admit(), never a probe.
    clock = Clock()
    b, _ = breaker(clock, threshold=2)
    b.failed()
    b.failed()
    assert state(b) is CircuitState.OPEN
    b.failed()  # while open: changes nothing
    assert b.retry_after_s == pytest.approx(5.0)
    b.succeeded()  # the relay got through: Bloomreach is back
    assert state(b) is CircuitState.CLOSED
    assert b.admit() is False


def test_a_success_while_a_probe_is_in_flight_closes_and_the_probe_outcome_counts_after() -> None:
    clock = Clock()
    b, _ = breaker(clock, threshold=2)
    trip(b, 2)
    clock.now += 5.0
    probe = b.admit()
    b.succeeded()  # the relay's success
    assert state(b) is CircuitState.CLOSED
    b.failed(probe)
    assert state(b) is CircuitState.CLOSED
    assert b.consecutive_failures == 1


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1.0, 1.0)
