"""The `bloomreach_circuit` check: the state of the project's circuit breaker (issue 15 §3),
as the tills find it now. It makes no call of its own."""

from __future__ import annotations

from core_service.domain.validation import Check
from core_service.services.circuit_breakers import CircuitStatus
from core_service.services.validation.checks import fail, ok, skip

NAME = "bloomreach_circuit"


def circuit_check(status: CircuitStatus | None) -> Check:
    if status is None:
        return skip(NAME, "the circuit breaker is off (SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES=0)")
    shared = ", ".join(status.integrations)
    where = f"project {status.project} (integrations: {shared})"
    if status.state == "closed":
        return ok(
            NAME,
            f"closed: customer calls go to Bloomreach; {status.consecutive_failures} "
            f"consecutive failure(s) now, opened {status.trips} time(s) since start; {where}",
        )
    since = (
        f"; opened {status.opened_seconds_ago:.0f} s ago"
        if status.opened_seconds_ago is not None
        else ""
    )
    if status.state == "open":
        detail = (
            f"open: Bloomreach failed {status.consecutive_failures} time(s) in a row, customer "
            f"calls fall back (cache, outbox) without calling it; one probe call in "
            f"{status.retry_after_s:.0f} s{since}; {where}"
        )
    else:
        detail = (
            "half-open: the cool-down is over, the next customer call probes Bloomreach (the "
            f"others fall back until it answers){since}; {where}"
        )
    return fail(
        NAME,
        detail,
        "Bloomreach timed out or answered 5xx/429 for this project: check Bloomreach's status "
        "page and the integration's API base URL; the circuit closes by itself at the first "
        "answer (a till's probe or a relay delivery)",
    )
