"""The validation run: every check in order, each failure contained, the report kept."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from core_service.domain.bloomreach_api import BloomreachProject
from core_service.domain.integration import Integration
from core_service.domain.validation import Check, Report
from core_service.metrics import CoreMetrics
from core_service.services.customers import CustomerService
from core_service.services.ports import ValidationStore
from core_service.services.upstream_ports import BloomreachApi, Upstream
from core_service.services.validation.bloomreach_checks import OFFER_GATE, BloomreachChecks
from core_service.services.validation.checks import (
    TestCustomer,
    fail,
    nonce,
    skipped_check,
    test_value,
)
from core_service.services.validation.circuit_check import NAME, circuit_check
from core_service.services.validation.round_trip import RoundTrip
from core_service.services.validation.sitoo_checks import SitooChecks
from runtime.settings import Settings

log = logging.getLogger(__name__)


class ValidationService:
    def __init__(
        self,
        customers: CustomerService,
        repository: ValidationStore,
        upstream: Upstream,
        settings: Settings,
        metrics: CoreMetrics,
    ) -> None:
        self._repo = repository
        self._upstream = upstream
        self._metrics = metrics
        self._bloomreach_checks = BloomreachChecks(customers)
        self._breakers = customers.breakers
        self._sitoo_checks = SitooChecks(upstream, settings)
        self._round_trip = RoundTrip(customers, repository, settings)

    async def validate(self, integration: Integration, *, skip_round_trip: bool) -> Report:
        """Run every check and keep the outcome as the integration's last validation."""
        ran_at = time.time()
        checks = await self._checks(integration, skip_round_trip=skip_round_trip)
        report = Report(ran_at, all(c.passed or c.skipped for c in checks), tuple(checks))
        await self._repo.record_run(integration.id, report.ran_at, report.passed, report.checks)
        return report

    async def last_report(self, integration: Integration) -> Report | None:
        return await self._repo.last_run(integration.id)

    async def _checks(self, integration: Integration, *, skip_round_trip: bool) -> list[Check]:
        checks: list[Check] = []
        client = self._bloomreach(integration)

        async def run(name: str, check: Callable[[], Awaitable[Check]]) -> Check:
            try:
                result = await check()
            except Exception as exc:  # a check that breaks is a failed check, not a crash
                log.exception("validation check %s failed unexpectedly", name)
                result = fail(name, f"{type(exc).__name__}: {exc}", "see the core's log")
            checks.append(result)
            outcome = "skipped" if result.skipped else ("pass" if result.passed else "fail")
            self._metrics.validation_checks.labels(name, outcome).inc()
            return result

        # First, before the round trip's own calls can change it: as the tills find it.
        await run(NAME, self._circuit(integration))
        credentials = await run(
            "bloomreach_credentials",
            lambda: self._bloomreach_checks.bloomreach_credentials(integration, client),
        )
        loyalty = integration.loyalty
        gate = bool(loyalty.promotion_count_aggregate_id or loyalty.bonus_check_count_aggregate_id)
        if credentials.passed and client is not None:
            await run(
                "bloomreach_read_permissions",
                lambda: self._bloomreach_checks.read_permissions(integration, client),
            )
            if gate:
                await run(
                    OFFER_GATE, lambda: self._bloomreach_checks.offer_gate(integration, client)
                )
            await run(
                "consent_categories",
                lambda: self._bloomreach_checks.consent_categories(integration, client),
            )
        else:
            names = ("bloomreach_read_permissions", *((OFFER_GATE,) if gate else ()))
            for name in (*names, "consent_categories"):
                await run(name, skipped_check(name, "Bloomreach credentials failed"))
        await run("sitoo_credentials", lambda: self._sitoo_checks.sitoo_credentials(integration))
        await run("edge_reachable", self._sitoo_checks.edge_reachable)
        round_trip = (
            "customer_creation",
            "customer_lookup",
            "bloomreach_write_permissions",
            "order_tracking",
            "test_customer_anonymized",
        )
        if skip_round_trip or not credentials.passed or client is None:
            why = "--skip-round-trip" if skip_round_trip else "Bloomreach credentials failed"
            for name in round_trip:
                await run(name, skipped_check(name, why))
            return checks
        source = integration.hard_id_source_field
        customer = TestCustomer(test_value(source, nonce()))
        try:
            created = await run(
                "customer_creation",
                lambda: self._round_trip.customer_creation(integration, customer),
            )
            if created.passed:
                await run(
                    "customer_lookup",
                    lambda: self._round_trip.customer_lookup(integration, customer),
                )
                await run(
                    "bloomreach_write_permissions",
                    lambda: self._round_trip.write_permissions(integration, client, customer),
                )
                await run(
                    "order_tracking",
                    lambda: self._round_trip.order_tracking(integration, client, customer),
                )
            else:
                for name in round_trip[1:4]:
                    await run(name, skipped_check(name, "the test customer could not be created"))
        finally:
            await run(
                "test_customer_anonymized",
                lambda: self._round_trip.anonymize(integration, client, customer),
            )
        return checks

    def _circuit(self, integration: Integration) -> Callable[[], Awaitable[Check]]:
        status = self._breakers.status(integration)

        async def check() -> Check:
            return circuit_check(status)

        return check

    def _bloomreach(self, integration: Integration) -> BloomreachApi | None:
        access = integration.bloomreach
        if not (access.api_base_url and access.project_token and access.api_key_id):
            return None
        project = BloomreachProject(
            access.api_base_url, access.project_token, access.api_key_id, access.api_secret or ""
        )
        return self._upstream.bloomreach(project)
