"""Validation against in-memory Bloomreach, Sitoo and outbox (tests/support/fake_upstream.py,
services/ports.py's ValidationStore): which checks run, which are skipped and why, the round
trip's test order and the clean-up that always runs. tests/e2e/test_validate.py runs the same
service behind the real core against the emulators and a relay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from core_service.domain.bloomreach_api import BloomreachAuthFailed
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    BloomreachAccess,
    ConsentType,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.domain.sitoo_api import SitooAuthFailed
from core_service.domain.upstream import Unreachable
from core_service.domain.validation import Check, MessageFate, Report
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.customers import CustomerService
from core_service.services.ports import ValidationStore
from core_service.services.validation import ValidationService
from runtime.settings import load_settings
from tests.support.fake_upstream import FakeBloomreach, FakeUpstream

EDGE = "https://edge.example"
ROUND_TRIP = (
    "customer_creation",
    "customer_lookup",
    "bloomreach_write_permissions",
    "order_tracking",
    "test_customer_anonymized",
)


class FakeOutbox:
    """Validation's messages and reports in memory. With ``relay`` set, an enqueued message
    is delivered at once: its purchase events land in the fake Bloomreach project, as a relay
    would send them (unless ``lose_events``); ``fate`` otherwise reports what the test put
    there."""

    def __init__(self, bloomreach: FakeBloomreach) -> None:
        self.bloomreach = bloomreach
        self.relay = True
        self.lose_events = False  # "delivered", yet nothing reaches Bloomreach
        self.fates: dict[int, MessageFate] = {}
        self.payloads: list[dict[str, Any]] = []
        self.reports: list[tuple[int, Report]] = []
        self.next_fate = MessageFate("pending", 0, "")

    async def enqueue(
        self, integration_id: int, order_key: str, payload: dict[str, Any], now: float
    ) -> int:
        self.payloads.append(payload)
        message_id = len(self.payloads)
        if self.relay:
            for command in payload["commands"] if not self.lose_events else []:
                data = command["data"]
                self.bloomreach.events.append(
                    {"type": data["event_type"], "properties": data["properties"]}
                )
            self.fates[message_id] = MessageFate("delivered", 1, "")
        else:
            self.fates[message_id] = self.next_fate
        return message_id

    async def fate(self, message_id: int) -> MessageFate | None:
        return self.fates.get(message_id)

    async def record_run(
        self, integration_id: int, ran_at: float, passed: bool, checks: Sequence[Check]
    ) -> None:
        self.reports.append((integration_id, Report(ran_at, passed, tuple(checks))))

    async def last_run(self, integration_id: int) -> Report | None:
        mine = [report for owner, report in self.reports if owner == integration_id]
        return mine[-1] if mine else None


def integration(*, with_secret: bool = True) -> Integration:
    return Integration(
        id=1,
        name="shop",
        display_name="Shop",
        company="Shop AB",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess(
            "http://br", "token", "key-1", "secret" if with_secret else None
        ),
        sitoo=SitooAccess(90, "http://sitoo", "90-1", "pw", 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=tuple(FieldMapping(f, t) for f, t in DEFAULT_FIELD_MAPPINGS),
        consent_types=(ConsentType("consent_news", "newsletter"),),
        channel_categories={},
    )


class Fixture:
    def __init__(self, delivery_timeout: float = 60.0) -> None:
        self.upstream = FakeUpstream()
        self.bloomreach = self.upstream.project
        self.bloomreach.categories = [{"id": "newsletter", "sources": {"private_api": True}}]
        self.upstream.statuses[f"{EDGE}/readyz"] = 200
        self.outbox = FakeOutbox(self.bloomreach)
        store: ValidationStore = self.outbox
        metrics = CoreMetrics.create()
        customers = CustomerService(
            BloomreachClients(self.upstream),
            metrics,
            bloomreach_timeout_s=5.0,
            history_limit=20,
            gates=CallGates(4, 4, metrics),
            breakers=CircuitBreakers(5, 5.0, 60.0, metrics),
        )
        settings = load_settings(
            edge_public_url=EDGE, validation_delivery_timeout_seconds=delivery_timeout
        )
        self.service = ValidationService(customers, store, self.upstream, settings, metrics)

    async def validate(
        self, *, skip_round_trip: bool = False, with_secret: bool = True
    ) -> dict[str, Check]:
        report = await self.service.validate(
            integration(with_secret=with_secret), skip_round_trip=skip_round_trip
        )
        assert report.passed == all(c.passed or c.skipped for c in report.checks)
        return {check.name: check for check in report.checks}


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def failed(checks: dict[str, Check]) -> list[str]:
    return [name for name, check in checks.items() if not (check.passed or check.skipped)]


def skipped(checks: dict[str, Check]) -> list[str]:
    return [name for name, check in checks.items() if check.skipped]


async def test_a_healthy_integration_passes_every_check_and_leaves_nothing(fx: Fixture) -> None:
    checks = await fx.validate()
    assert list(checks) == [
        "bloomreach_circuit",
        "bloomreach_credentials",
        "bloomreach_read_permissions",
        "consent_categories",
        "sitoo_credentials",
        "edge_reachable",
        *ROUND_TRIP,
    ]
    assert failed(checks) == [] and skipped(checks) == []
    # The test order went through the outbox once, and the test customer is gone again.
    assert len(fx.outbox.payloads) == 1 and fx.outbox.payloads[0]["validation"] is True
    assert fx.bloomreach.profiles == [] and len(fx.bloomreach.anonymized) == 1
    # The report is kept as the integration's last.
    last = await fx.service.last_report(integration())
    assert last is not None and last.passed and len(last.checks) == 11


async def test_skip_round_trip_writes_nothing(fx: Fixture) -> None:
    checks = await fx.validate(skip_round_trip=True)
    assert skipped(checks) == list(ROUND_TRIP)
    assert all("--skip-round-trip" in checks[name].detail for name in ROUND_TRIP)
    assert fx.bloomreach.batches == [] and fx.outbox.payloads == []


async def test_refused_bloomreach_credentials_skip_what_depends_on_them(fx: Fixture) -> None:
    fx.bloomreach.fail.append(BloomreachAuthFailed("Bloomreach refused the API key (401)"))
    checks = await fx.validate()
    assert failed(checks) == ["bloomreach_credentials"]
    assert skipped(checks) == ["bloomreach_read_permissions", "consent_categories", *ROUND_TRIP]
    assert "API key" in checks["bloomreach_credentials"].remedy
    # Sitoo and the edge are checked all the same.
    assert checks["sitoo_credentials"].passed and checks["edge_reachable"].passed


async def test_missing_bloomreach_access_names_what_to_set(fx: Fixture) -> None:
    checks = await fx.validate(with_secret=False)
    assert "API secret" in checks["bloomreach_credentials"].detail
    assert fx.bloomreach.calls == []


async def test_an_unreadable_attribute_names_the_grant_it_needs(fx: Fixture) -> None:
    fx.bloomreach.unknown_is_404 = False  # the probe's made-up customer reads as nulls
    fx.bloomreach.unreadable.add("first_name")
    checks = await fx.validate(skip_round_trip=True)
    assert failed(checks) == ["bloomreach_read_permissions"]
    assert "first_name" in checks["bloomreach_read_permissions"].detail


async def test_an_unknown_consent_category_is_named(fx: Fixture) -> None:
    fx.bloomreach.categories = [{"id": "other", "sources": {"private_api": True}}]
    checks = await fx.validate(skip_round_trip=True)
    assert failed(checks) == ["consent_categories"]
    assert "newsletter" in checks["consent_categories"].detail


async def test_sitoo_and_edge_failures_are_reported_with_their_cause(fx: Fixture) -> None:
    fx.upstream.order_list.fail.append(SitooAuthFailed("Sitoo answered 401", status=401))
    fx.upstream.statuses[f"{EDGE}/readyz"] = Unreachable("ClientConnectorError")
    checks = await fx.validate(skip_round_trip=True)
    assert failed(checks) == ["sitoo_credentials", "edge_reachable"]
    assert "90-1" in checks["sitoo_credentials"].remedy
    assert checks["edge_reachable"].detail == f"{EDGE}/readyz: ClientConnectorError"


async def test_an_edge_that_answers_but_is_not_ready_fails(fx: Fixture) -> None:
    fx.upstream.statuses[f"{EDGE}/readyz"] = 503
    checks = await fx.validate(skip_round_trip=True)
    assert failed(checks) == ["edge_reachable"]
    assert "503" in checks["edge_reachable"].detail


async def test_refused_writes_fail_and_the_test_customer_is_still_anonymized(
    fx: Fixture,
) -> None:
    original = fx.bloomreach.batch
    calls = 0

    async def refuse_after_create(commands: Any, timeout: float) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:  # the create goes through; the write probe is refused
            fx.bloomreach.refuse.update(c["command_id"] for c in commands)
        return await original(commands, timeout)

    fx.bloomreach.batch = refuse_after_create  # type: ignore[method-assign]
    checks = await fx.validate()
    assert "bloomreach_write_permissions" in failed(checks)
    assert "cannot write" in checks["bloomreach_write_permissions"].detail
    assert checks["test_customer_anonymized"].passed
    assert fx.bloomreach.profiles == []


async def test_a_dead_test_order_names_the_relays_error(fx: Fixture) -> None:
    fx.outbox.relay = False
    fx.outbox.next_fate = MessageFate("dead", 8, "Bloomreach refused the API key")
    checks = await fx.validate()
    assert failed(checks) == ["order_tracking"]
    assert "dead (Bloomreach refused the API key)" in checks["order_tracking"].detail
    assert checks["test_customer_anonymized"].passed


async def test_a_test_order_no_relay_delivers_times_out() -> None:
    fx = Fixture(delivery_timeout=0.5)  # the check polls every 0.25 s
    fx.outbox.relay = False
    checks = await fx.validate()
    assert failed(checks) == ["order_tracking"]
    assert "still pending" in checks["order_tracking"].detail
    assert "start one" in checks["order_tracking"].remedy


async def test_a_delivered_order_must_show_on_the_test_customer(fx: Fixture) -> None:
    fx.outbox.lose_events = True
    fx.bloomreach.events.append({"type": "purchase", "properties": {"purchase_id": "real-1"}})
    checks = await fx.validate()
    assert failed(checks) == ["order_tracking"]
    assert "does not show it" in checks["order_tracking"].detail
