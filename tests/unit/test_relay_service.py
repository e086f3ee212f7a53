"""The relay against in-memory ports (services/ports.py's RelayStore, relay_tenants' Tenants):
how each vendor failure is classified (retry on the schedule or dead, with what reason and
what payload) and how customer messages are delivered. tests/db/test_relay_repo.py and
tests/e2e/test_orders_faults.py run the same relay on the real databases and processes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import generate_latest

from core_service.adapters.bloomreach import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachRateLimited,
    BloomreachRejected,
    BloomreachTimeout,
    BloomreachUnavailable,
    CommandResult,
)
from core_service.adapters.http_client import HttpClients
from core_service.adapters.sitoo_api import SitooError, SitooNotFound, SitooUnavailable
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.orders import CustomerRule
from core_service.domain.outbox import UNREADABLE, Claimed, Completion, OutboxStats
from core_service.domain.stored_integration import StoredIntegration
from core_service.metrics import CoreMetrics
from core_service.services.relay import Relay
from core_service.services.relay_tenants import Tenant
from harness.metrics import sample_value
from runtime.settings import Settings
from tests.support.eventually import eventually

NOW = 1_700_000_000.0
SCHEDULE = (0.0, 10.0, 20.0)
ORDER_COMMANDS = [{"name": "customers/events", "command_id": "purchase", "data": {}}]


class FakeStore:
    """Messages to hand out once, and the completions the relay commits."""

    def __init__(self, messages: Sequence[Claimed]) -> None:
        self.waiting = list(messages)
        self.completed: list[Completion] = []
        self.prepared: list[tuple[Claimed, dict[str, Any]]] = []

    async def claim(self, limit: int, lease_s: float, now: float) -> list[Claimed]:
        taken, self.waiting = self.waiting[:limit], self.waiting[limit:]
        return taken

    async def tracked(self, integration_id: int, order_keys: Sequence[str]) -> set[str]:
        return set()

    async def prepare(
        self, items: Sequence[tuple[Claimed, dict[str, Any]]], now: float
    ) -> set[int]:
        self.prepared.extend(items)
        return {m.id for m, _ in items}

    async def complete(self, completions: Sequence[Completion], now: float) -> list[bool]:
        self.completed.extend(completions)
        return [True] * len(completions)


class FakeStats:
    async def stats(self, integration: str | None, now: float | None = None) -> OutboxStats:
        return OutboxStats({}, 0.0)


class FakeLister:
    async def list(self) -> Sequence[StoredIntegration]:
        return []


class FakeSitoo:
    def __init__(self, error: SitooError) -> None:
        self.error = error

    async def get_order(self, site_id: int, order_id: int, timeout: float) -> dict[str, Any]:
        raise self.error


class FakeSender:
    """Bloomreach's batch: raises ``error`` if set, else refuses the command ids in
    ``refuse``; records what it was sent and whether in order."""

    def __init__(self, error: BloomreachError | None = None, refuse: tuple[str, ...] = ()) -> None:
        self.error = error
        self.refuse = refuse
        self.sent: list[tuple[list[str], bool]] = []

    async def send(
        self, commands: Sequence[dict[str, Any]], *, ordered: bool = False
    ) -> list[CommandResult]:
        self.sent.append(([c["command_id"] for c in commands], ordered))
        if self.error is not None:
            raise self.error
        return [
            CommandResult(c["command_id"] not in self.refuse, c["command_id"], ("Conflict",))
            if c["command_id"] in self.refuse
            else CommandResult(True, c["command_id"])
            for c in commands
        ]

    async def close(self) -> None:
        pass


class FakeTenants:
    def __init__(self, tenant: Tenant | None) -> None:
        self.tenant = tenant

    def __len__(self) -> int:
        return 1

    def settings_changed(self) -> None:
        pass

    async def get(self, integration_id: int) -> Tenant | None:
        return self.tenant

    async def close(self) -> None:
        pass


def value(metrics: CoreMetrics, name: str, **labels: str) -> float | None:
    return sample_value(generate_latest(metrics.registry).decode(), name, **labels)


def integration() -> Integration:
    return Integration(
        id=1,
        name="acme",
        display_name="Acme",
        company="Acme AB",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("http://br", "token", "key", "secret"),
        sitoo=SitooAccess(1, "http://sitoo", "id", "pw", 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=(),
        consent_types=(),
    )


def order(attempts: int = 0, *, prepared: bool = True) -> Claimed:
    payload: dict[str, Any] = {"order": {"account_id": 1, "eshop_id": 1, "order_id": 7}}
    if prepared:
        payload["commands"] = list(ORDER_COMMANDS)
        payload["purchase"] = {"purchase_id": "7", "kind": "sale"}
    return Claimed(7, 1, "1:1:7", payload, attempts, 0, "token")


def customer(*command_ids: str, attempts: int = 0) -> Claimed:
    commands = [{"name": "customers", "command_id": i, "data": {}} for i in command_ids]
    payload = {"customer_id": "anna@example.com", "commands": commands}
    return Claimed(9, 1, "c:" + "0" * 64, payload, attempts, 0, "token", kind="customer")


def run(
    messages: Sequence[Claimed],
    sender: FakeSender,
    sitoo: FakeSitoo | None = None,
    *,
    tenant: bool = True,
) -> tuple[list[Completion], CoreMetrics]:
    metrics = CoreMetrics.create()
    store = FakeStore(messages)
    settings = Settings(
        relay_retry_schedule=SCHEDULE,
        relay_poll_interval_seconds=0.01,
        bloomreach_requests_per_second=0,
    )
    tenants = FakeTenants(
        Tenant(
            integration(),
            sitoo or FakeSitoo(SitooUnavailable("unused")),
            sender,
            CustomerRule("registered", "email"),
        )
        if tenant
        else None
    )
    relay = Relay(
        repository=store,
        integrations=FakeLister(),
        outbox_admin=FakeStats(),
        http=HttpClients(),
        settings=settings,
        metrics=metrics,
        single_writer=True,
        clock=lambda: NOW,
        rng=random.Random(1),
        tenants=tenants,
    )

    async def go() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        await eventually(
            lambda: asyncio.sleep(0, len(store.completed)), lambda n: n == len(messages)
        )
        stop.set()
        await running

    asyncio.run(go())
    return store.completed, metrics


@pytest.mark.parametrize(
    "error",
    [
        BloomreachUnavailable("503", status=503),
        BloomreachTimeout("timed out"),
        BloomreachRateLimited("429", retry_after_s=None),
    ],
)
def test_a_transient_bloomreach_failure_retries_on_the_schedule(error: BloomreachError) -> None:
    [done], metrics = run([order(attempts=1)], FakeSender(error))
    assert done.state == "retry"
    # The second failure waits the schedule's third step, +-20 % jitter.
    assert 16.0 <= done.available_at - NOW <= 24.0
    assert done.error.startswith("bloomreach: ")
    # The prepared commands stay: the resend is byte-identical.
    assert done.payload is not None and done.payload["commands"] == ORDER_COMMANDS
    name = type(error).__name__
    assert value(metrics, "core_upstream_errors_total", error_class=name) == 1


def test_a_retry_after_longer_than_the_schedule_is_honoured() -> None:
    [done], _ = run([order()], FakeSender(BloomreachRateLimited("429", retry_after_s=300.0)))
    assert done.state == "retry" and done.available_at == NOW + 300.0


def test_the_schedule_exhausted_makes_the_message_dead() -> None:
    [done], _ = run([order(attempts=2)], FakeSender(BloomreachUnavailable("503", status=503)))
    assert done.state == "dead"
    assert "after 3 attempts" in done.error


@pytest.mark.parametrize(
    "error", [BloomreachRejected("400 bad", status=400), BloomreachAuthFailed("401", status=401)]
)
def test_a_permanent_bloomreach_refusal_is_dead_at_once_and_rebuilds_on_replay(
    error: BloomreachError,
) -> None:
    [done], metrics = run([order()], FakeSender(error))
    assert done.state == "dead" and done.error.startswith("Bloomreach: ")
    # Bloomreach stored nothing: a replay may rebuild the commands from the order.
    assert done.payload is not None and "commands" not in done.payload
    alerts = value(metrics, "core_upstream_credentials_rejected_total")
    assert alerts == (1 if isinstance(error, BloomreachAuthFailed) else None)


def test_sitoo_not_showing_the_order_is_retried_soon_and_counted() -> None:
    [done], _ = run([order(prepared=False)], FakeSender(), FakeSitoo(SitooNotFound("404")))
    assert done.state == "retry"
    assert done.payload is not None and done.payload["not_found"] == 1


def test_a_disabled_integration_retries() -> None:
    [done], _ = run([order()], FakeSender(), tenant=False)
    assert done.state == "retry" and "integration disabled or missing" in done.error


def test_unreadable_commands_are_dead_not_rebuilt() -> None:
    message = order()
    unreadable = Claimed(**{**vars(message), "payload": {UNREADABLE: "wrong key"}})
    sender = FakeSender()
    [done], _ = run([unreadable], sender)
    assert done.state == "dead" and "unreadable" in done.error
    assert sender.sent == []


def test_customer_commands_are_sent_in_order_and_delivered() -> None:
    sender = FakeSender()
    [done], metrics = run([customer("c1", "c2", "c3")], sender)
    assert done.state == "delivered"
    assert sender.sent == [(["c1", "c2", "c3"], True)]
    assert value(metrics, "core_customer_commands_dead_total") is None


def test_a_refused_customer_command_is_dead_with_its_reason_and_counted() -> None:
    [done], metrics = run([customer("c1", "c2")], FakeSender(refuse=("c2",)))
    assert done.state == "dead"
    assert done.error == "Bloomreach refused queued commands: c2: Conflict"
    # The payload stays whole for the operator (a customer write cannot be rebuilt).
    assert done.payload is None
    assert value(metrics, "core_customer_commands_dead_total", integration="acme") == 1


def test_a_customer_message_retries_an_outage_and_keeps_its_payload() -> None:
    [done], metrics = run([customer("c1")], FakeSender(BloomreachUnavailable("503", status=503)))
    assert done.state == "retry" and done.payload is None
    assert 0.0 <= done.available_at - NOW <= 12.0
    assert value(metrics, "core_customer_commands_dead_total") is None


def test_a_customer_message_refused_as_a_whole_is_dead_and_counted() -> None:
    [done], metrics = run([customer("c1")], FakeSender(BloomreachRejected("400", status=400)))
    assert done.state == "dead" and done.payload is None
    assert value(metrics, "core_customer_commands_dead_total", integration="acme") == 1


def test_an_unreadable_customer_message_is_dead_and_counted() -> None:
    message = customer("c1")
    unreadable = Claimed(**{**vars(message), "payload": {UNREADABLE: "wrong key"}})
    [done], metrics = run([unreadable], FakeSender())
    assert done.state == "dead" and "unreadable" in done.error
    assert value(metrics, "core_customer_commands_dead_total", integration="acme") == 1
