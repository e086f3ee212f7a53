"""The relay's failure classification: what a failed Sitoo or Bloomreach call makes of a
claimed message (retry on the schedule, or dead with its reason), with the metrics and logs
an operator reads. Decisions themselves are the domain's (domain/delivery_outcome.py)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from core_service.domain.bloomreach_api import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachRateLimited,
)
from core_service.domain.delivery_outcome import (
    Dead,
    Outcome,
    Retry,
    UpstreamFailure,
    after_bloomreach_failure,
    after_sitoo_failure,
)
from core_service.domain.outbox import Claimed, Completion
from core_service.domain.sitoo_api import (
    SitooAuthFailed,
    SitooError,
    SitooNotFound,
    SitooRateLimited,
)
from core_service.metrics import CoreMetrics
from core_service.services.relay_tenants import Tenant
from runtime.settings import Settings

log = logging.getLogger("core_service.services.relay")


class Verdicts:
    def __init__(
        self,
        settings: Settings,
        metrics: CoreMetrics,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng

    def sitoo_failed(
        self, message: Claimed, tenant: Tenant, exc: SitooError, payload: dict[str, Any]
    ) -> Completion:
        name = tenant.integration.name
        self._metrics.upstream_errors.labels("sitoo", name, type(exc).__name__).inc()
        if isinstance(exc, SitooAuthFailed):
            self._metrics.upstream_auth_alerts.labels("sitoo", name).inc()
        failure = UpstreamFailure(
            transient=exc.transient,
            retry_after_s=exc.retry_after_s if isinstance(exc, SitooRateLimited) else None,
            not_found=isinstance(exc, SitooNotFound),
        )
        misses = int(payload.get("not_found", 0))
        if failure.not_found:
            misses += 1
            payload = {**payload, "not_found": misses}
        outcome = after_sitoo_failure(
            failure,
            schedule=self._settings.relay_retry_schedule,
            attempts=message.attempts,
            misses=misses,
            not_found_retries=self._settings.relay_not_found_retries,
            rng=self._rng,
        )
        return self.settle(message, payload, "sitoo", str(exc), outcome, vendor="Sitoo")

    def bloomreach_failed(
        self,
        message: Claimed,
        tenant: Tenant,
        exc: BloomreachError,
        payload: dict[str, Any] | None,
    ) -> Completion:
        """``payload`` None (a customer message): the stored payload stays as it is."""
        name = tenant.integration.name
        self._metrics.upstream_errors.labels("bloomreach", name, type(exc).__name__).inc()
        log.warning(
            "bloomreach batch failed",
            extra={
                "integration": name,
                "outbox_id": message.id,
                "error_class": type(exc).__name__,
                "bloomreach_request_id": exc.request_id,
                "error": str(exc),
            },
        )
        if isinstance(exc, BloomreachAuthFailed):
            self._metrics.upstream_auth_alerts.labels("bloomreach", name).inc()
        failure = UpstreamFailure(
            transient=exc.transient,
            retry_after_s=exc.retry_after_s if isinstance(exc, BloomreachRateLimited) else None,
        )
        outcome = after_bloomreach_failure(
            failure,
            schedule=self._settings.relay_retry_schedule,
            attempts=message.attempts,
            rng=self._rng,
        )
        if payload is not None and isinstance(outcome, Dead) and outcome.kind == "permanent":
            # 400 / 401 / 403: Bloomreach stored nothing, so a replay may rebuild commands.
            payload = {k: v for k, v in payload.items() if k != "commands"}
        return self.settle(message, payload, "bloomreach", str(exc), outcome, vendor="Bloomreach")

    def settle(
        self,
        message: Claimed,
        payload: dict[str, Any] | None,
        where: str,
        error: str,
        outcome: Outcome,
        *,
        vendor: str = "",
    ) -> Completion:
        """The completion that records ``outcome``, with the error worded for the operator."""
        if isinstance(outcome, Retry):
            return Completion(
                message,
                "retry",
                error=f"{where}: {error}",
                available_at=self._clock() + outcome.delay_s,
                payload=payload,
            )
        if outcome.kind == "permanent":
            text = f"{vendor}: {error}"
        elif outcome.kind == "not_found":
            text = f"{outcome.why}: {error}"
        else:
            text = f"{where}: {error} ({outcome.why})"
        return Completion(message, "dead", error=text, payload=payload)
