"""Console sign-in throttling, on a clock the test moves."""

from __future__ import annotations

from console.throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_few_mistakes_are_free_then_lockouts_double_up_to_the_cap() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_failures=3, first_lockout_s=1.0, max_lockout_s=8.0, clock=clock)
    for _ in range(3):
        throttle.failed("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") == 0
    lockouts = []
    for _ in range(6):
        throttle.failed("10.0.0.1")
        lockouts.append(throttle.retry_after("10.0.0.1"))
        clock.now += lockouts[-1]
        assert throttle.retry_after("10.0.0.1") == 0
    assert lockouts == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    # Another address is not punished for this one's guesses.
    assert throttle.retry_after("10.0.0.2") == 0


def test_a_success_clears_the_address() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_failures=1, clock=clock)
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 1.0
    clock.now += 1.0
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 0  # the free mistake is free again


def test_memory_is_bounded_by_forgetting_the_least_recent_addresses() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_failures=0, max_addresses=2, clock=clock)
    for address in ("a", "b", "c"):
        throttle.failed(address)
    assert throttle.retry_after("a") == 0  # forgotten
    assert throttle.retry_after("b") > 0
    assert throttle.retry_after("c") > 0
    throttle.failed("b")  # b is now the most recent; a new address evicts c
    throttle.failed("d")
    assert throttle.retry_after("c") == 0
    assert throttle.retry_after("b") > 0
