"""What a failed delivery attempt means for its outbox message: retry when, or give up.

Pure rules, no I/O: the relay classifies a vendor failure into an :class:`UpstreamFailure`
and these decide. Kept apart so that the retry policy can be read, and tested, in one place.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

JITTER = 0.2  # +-20 % on every backoff delay, so retries of one outage do not synchronise
NOT_FOUND_MAX_DELAY_S = 60.0  # an order not yet visible usually is a second later


@dataclass(frozen=True)
class UpstreamFailure:
    """A vendor call that failed, as the rules need to see it."""

    # Worth trying again (timeouts, 5xx, 429); False for 400/401/403 and the like.
    transient: bool
    # The vendor asked us to wait at least this long (Retry-After).
    retry_after_s: float | None = None
    # Sitoo does not (yet) show the order.
    not_found: bool = False


@dataclass(frozen=True)
class Retry:
    delay_s: float


@dataclass(frozen=True)
class Dead:
    """Give up. ``exhausted``: the retry schedule ran out; ``permanent``: retrying cannot help;
    ``not_found``: Sitoo kept not showing the order. ``why`` is worded for the stored error."""

    kind: Literal["exhausted", "permanent", "not_found"]
    why: str = ""


Outcome = Retry | Dead


def backoff(
    schedule: Sequence[float], failures: int, rng: random.Random, retry_after: float | None
) -> float | None:
    """Seconds until the next attempt after ``failures`` failed ones; None = give up."""
    if failures >= len(schedule):
        return None
    delay = schedule[failures] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def after_failure(
    schedule: Sequence[float],
    attempts: int,
    rng: random.Random,
    *,
    retry_after: float | None = None,
    cap: float | None = None,
) -> Outcome:
    """The next step for a message that failed its attempt number ``attempts + 1``."""
    failures = attempts + 1
    delay = backoff(schedule, failures, rng, retry_after)
    if delay is None:
        return Dead("exhausted", f"after {failures} attempts")
    if cap is not None:
        delay = min(delay, cap)
    return Retry(delay)


def after_sitoo_failure(
    failure: UpstreamFailure,
    *,
    schedule: Sequence[float],
    attempts: int,
    misses: int,
    not_found_retries: int,
    rng: random.Random,
) -> Outcome:
    """Sitoo could not give us the order. ``misses`` counts not-found answers so far,
    this one included: an order Sitoo keeps not showing is dead after ``not_found_retries``,
    whatever the schedule; until then it is retried soon (capped delay)."""
    if failure.not_found:
        if misses > not_found_retries:
            return Dead("not_found", f"order not found in Sitoo ({misses} tries)")
        return after_failure(schedule, attempts, rng, cap=NOT_FOUND_MAX_DELAY_S)
    if not failure.transient:
        return Dead("permanent")
    return after_failure(schedule, attempts, rng, retry_after=failure.retry_after_s)


def after_bloomreach_failure(
    failure: UpstreamFailure, *, schedule: Sequence[float], attempts: int, rng: random.Random
) -> Outcome:
    """Bloomreach refused or did not answer a batch. A permanent refusal (400/401/403) stored
    nothing, so the message is dead at once and a replay may rebuild its commands."""
    if not failure.transient:
        return Dead("permanent")
    return after_failure(schedule, attempts, rng, retry_after=failure.retry_after_s)
