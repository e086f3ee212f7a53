"""The relay's scheduled reconcile: every ``reconcile_interval_seconds``, each enabled
integration's recent window is compared with what the webhooks announced."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core_service.domain.errors import DomainError
from core_service.services.backfill import BackfillService
from core_service.services.integrations import IntegrationService

log = logging.getLogger(__name__)


async def reconcile_all(integrations: IntegrationService, backfill: BackfillService) -> int:
    missed = 0
    for integration in await integrations.list():
        if not integration.enabled or not integration.sitoo.api_base_url:
            continue
        try:
            found = await backfill.reconcile_recent(integration)
        except DomainError as exc:
            log.error(
                "scheduled reconcile failed",
                extra={"integration": integration.name, "error": str(exc)},
            )
            continue
        missed += len(found)
        log.info(
            "scheduled reconcile done",
            extra={"integration": integration.name, "missed": len(found)},
        )
    return missed


async def run_schedule(
    integrations: IntegrationService,
    backfill: BackfillService,
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """First run one interval after start (a restart loop must not hammer Sitoo)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        if stop.is_set():
            return
        try:
            await reconcile_all(integrations, backfill)
        except Exception:  # the schedule outlives any one failure
            log.exception("scheduled reconcile crashed")
