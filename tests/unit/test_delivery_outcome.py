"""The relay's retry policy as pure rules (core_service.domain.delivery_outcome)."""

from __future__ import annotations

import random

import pytest

from core_service.domain.delivery_outcome import (
    JITTER,
    NOT_FOUND_MAX_DELAY_S,
    Dead,
    Retry,
    UpstreamFailure,
    after_bloomreach_failure,
    after_failure,
    after_sitoo_failure,
    backoff,
)

SCHEDULE = (0.0, 2.0, 10.0, 300.0)


def rng() -> random.Random:
    return random.Random(7)


@pytest.mark.parametrize("failures", [1, 2, 3])
def test_backoff_follows_the_schedule_within_the_jitter(failures: int) -> None:
    delays = [backoff(SCHEDULE, failures, random.Random(seed), None) for seed in range(200)]
    low, high = SCHEDULE[failures] * (1 - JITTER), SCHEDULE[failures] * (1 + JITTER)
    assert all(d is not None and low <= d <= high for d in delays)
    # Jittered, so the retries of one outage spread out.
    assert len({round(d or 0, 6) for d in delays}) > 100


def test_backoff_gives_up_when_the_schedule_is_spent() -> None:
    assert backoff(SCHEDULE, len(SCHEDULE), rng(), None) is None
    assert backoff(SCHEDULE, len(SCHEDULE) + 5, rng(), 1.0) is None


def test_a_vendors_retry_after_is_a_floor_never_a_ceiling() -> None:
    assert backoff(SCHEDULE, 1, rng(), 60.0) == 60.0
    delay = backoff(SCHEDULE, 3, rng(), 1.0)
    assert delay is not None and delay >= 300.0 * (1 - JITTER)


def test_after_failure_counts_this_attempt() -> None:
    # attempts = failed attempts before this one; this failure makes it attempts + 1.
    assert isinstance(after_failure(SCHEDULE, len(SCHEDULE) - 2, rng()), Retry)
    outcome = after_failure(SCHEDULE, len(SCHEDULE) - 1, rng())
    assert outcome == Dead("exhausted", f"after {len(SCHEDULE)} attempts")


def test_after_failure_caps_the_delay() -> None:
    outcome = after_failure(SCHEDULE, 2, rng(), cap=5.0)
    assert outcome == Retry(5.0)


TRANSIENT = UpstreamFailure(transient=True)
PERMANENT = UpstreamFailure(transient=False)
NOT_FOUND = UpstreamFailure(transient=True, not_found=True)


def sitoo(failure: UpstreamFailure, *, attempts: int = 0, misses: int = 0) -> object:
    return after_sitoo_failure(
        failure, schedule=SCHEDULE, attempts=attempts, misses=misses, not_found_retries=3, rng=rng()
    )


def test_sitoo_refusing_for_good_is_dead_at_once() -> None:
    assert sitoo(PERMANENT) == Dead("permanent")


def test_sitoo_transient_failures_retry_until_the_schedule_ends() -> None:
    assert isinstance(sitoo(TRANSIENT, attempts=0), Retry)
    assert sitoo(TRANSIENT, attempts=len(SCHEDULE) - 1) == Dead(
        "exhausted", f"after {len(SCHEDULE)} attempts"
    )


def test_sitoo_rate_limits_wait_at_least_what_sitoo_asks() -> None:
    outcome = sitoo(UpstreamFailure(transient=True, retry_after_s=42.0), attempts=0)
    assert outcome == Retry(42.0)


def test_an_order_sitoo_does_not_show_yet_is_retried_soon_then_given_up() -> None:
    # Late in the schedule (a 300 s step), a missing order is still looked at within a minute.
    soon = sitoo(NOT_FOUND, attempts=2, misses=1)
    assert isinstance(soon, Retry) and soon.delay_s == NOT_FOUND_MAX_DELAY_S
    assert isinstance(sitoo(NOT_FOUND, attempts=0, misses=3), Retry)
    assert sitoo(NOT_FOUND, attempts=0, misses=4) == Dead(
        "not_found", "order not found in Sitoo (4 tries)"
    )


def test_not_found_beats_permanence() -> None:
    # Sitoo's 404 is not a refusal: the order may appear a moment later.
    assert isinstance(sitoo(UpstreamFailure(transient=False, not_found=True), misses=1), Retry)


def test_bloomreach_refusals_are_dead_at_once_and_outages_retry() -> None:
    assert after_bloomreach_failure(PERMANENT, schedule=SCHEDULE, attempts=0, rng=rng()) == Dead(
        "permanent"
    )
    assert isinstance(
        after_bloomreach_failure(TRANSIENT, schedule=SCHEDULE, attempts=0, rng=rng()), Retry
    )
    limited = UpstreamFailure(transient=True, retry_after_s=9.0)
    assert after_bloomreach_failure(limited, schedule=SCHEDULE, attempts=0, rng=rng()) == Retry(9.0)
    assert after_bloomreach_failure(
        TRANSIENT, schedule=SCHEDULE, attempts=len(SCHEDULE) - 1, rng=rng()
    ) == Dead("exhausted", f"after {len(SCHEDULE)} attempts")
