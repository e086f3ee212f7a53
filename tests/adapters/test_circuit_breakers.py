"""The breakers around real calls (issue 15 §3): the guard's reading of outcomes, the relay's
sender feeding the project's breaker over real HTTP to the Bloomreach emulator, and what the
metrics show."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import generate_latest

from core_service.adapters.bloomreach import BloomreachError
from core_service.adapters.http_client import HttpClients
from core_service.domain.errors import (
    CircuitOpen,
    NotFound,
    Overloaded,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.stored_integration import StoredIntegration
from core_service.metrics import CoreMetrics
from core_service.services.circuit_breakers import CircuitBreakers, project_digest
from core_service.services.relay_tenants import TenantCache
from harness.metrics import sample_value
from runtime.settings import Settings
from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET

FAILURES = 2


def integration(name: str, url: str, token: str = DEFAULT_PROJECT_TOKEN) -> Integration:
    return Integration(
        id=abs(hash(name)) % 1000 + 1,
        name=name,
        display_name=name,
        company="",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess(url, token, DEFAULT_KEY_ID, DEFAULT_SECRET),
        sitoo=SitooAccess(1, "http://127.0.0.1:9", "api", "secret", 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=(),
        consent_types=(),
        spi_username=f"{name}-spi",
        webhook_username=f"{name}-webhook",
    )


def metrics_text(metrics: CoreMetrics) -> str:
    return generate_latest(metrics.registry).decode()


async def call(breakers: CircuitBreakers, item: Integration, outcome: BaseException | None) -> None:
    async with breakers.guard(item):
        if outcome is not None:
            raise outcome


@pytest.mark.parametrize(
    ("error", "opens"),
    [
        (UpstreamTimeout("slow"), True),
        (UpstreamUnavailable("503"), True),
        (UpstreamRateLimited("429"), True),
        (UpstreamRejected("400"), False),
        (UpstreamMisconfigured("401"), False),
        (NotFound("404"), False),
        (Overloaded("shed"), False),
        (RuntimeError("a bug of ours"), False),
    ],
)
async def test_the_guard_counts_only_what_says_bloomreach_is_down(
    error: Exception, opens: bool
) -> None:
    breakers = CircuitBreakers(FAILURES, 60, 60)
    item = integration("shop", "http://br.example")
    for _ in range(FAILURES):
        with pytest.raises(type(error)):
            await call(breakers, item, error)
    status = breakers.status(item)
    assert status is not None
    assert status.state == ("open" if opens else "closed")


async def test_open_refuses_before_the_call_and_counts_it() -> None:
    metrics = CoreMetrics.create()
    breakers = CircuitBreakers(FAILURES, 60, 60, metrics)
    item = integration("shop", "http://br.example")
    for _ in range(FAILURES):
        with pytest.raises(UpstreamUnavailable):
            await call(breakers, item, UpstreamUnavailable("503"))
    entered = False
    with pytest.raises(CircuitOpen) as refused:
        async with breakers.guard(item):
            entered = True
    assert not entered
    assert refused.value.retry_after_s == 60
    text = metrics_text(metrics)
    assert sample_value(text, "core_bloomreach_short_circuited_total", integration="shop") == 1
    assert sample_value(text, "core_bloomreach_circuit_state", integration="shop") == 2


async def test_integrations_on_one_project_share_a_breaker_named_by_a_digest() -> None:
    metrics = CoreMetrics.create()
    breakers = CircuitBreakers(FAILURES, 60, 60, metrics)
    shop = integration("shop", "http://br.example")
    outlet = integration("outlet", "http://br.example/")
    other = integration("other", "http://br.example", token="another-project-token")
    for item in (shop, outlet):
        with pytest.raises(UpstreamTimeout):
            await call(breakers, item, UpstreamTimeout("slow"))
    with pytest.raises(CircuitOpen):
        await call(breakers, outlet, None)
    await call(breakers, other, None)  # another project: unaffected
    status = breakers.status(shop)
    assert status is not None
    assert status.integrations == ("outlet", "shop")
    assert status.project == project_digest("http://br.example", DEFAULT_PROJECT_TOKEN)
    text = metrics_text(metrics)
    assert DEFAULT_PROJECT_TOKEN not in text and "another-project-token" not in text
    assert sample_value(text, "core_bloomreach_circuit_state", integration="outlet") == 2
    assert sample_value(text, "core_bloomreach_circuit_state", integration="other") == 0
    # An integration moved to another project: its old series goes.
    moved = dataclasses.replace(
        shop, bloomreach=dataclasses.replace(shop.bloomreach, project_token="moved-token")
    )
    breakers.status(moved)
    text = metrics_text(metrics)
    assert sample_value(text, "core_bloomreach_circuit_state", integration="shop") == 0
    assert sample_value(text, "core_bloomreach_circuit_state", project=status.project) == 2


async def test_off_when_the_threshold_is_zero() -> None:
    breakers = CircuitBreakers(0, 60, 60)
    item = integration("shop", "http://br.example")
    for _ in range(10):
        with pytest.raises(UpstreamTimeout):
            await call(breakers, item, UpstreamTimeout("slow"))
    assert breakers.status(item) is None
    await call(breakers, item, None)


# ---- the relay, over real HTTP -------------------------------------------------------


class Lister:
    def __init__(self, items: Sequence[Integration]) -> None:
        self._items = items

    async def list(self) -> Sequence[StoredIntegration]:
        return [StoredIntegration(i, "", "") for i in self._items]


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    runner = web.AppRunner(create_app(BloomreachConfig.sandbox(seed=1)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    async with aiohttp.ClientSession() as session:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", session
    await runner.cleanup()


async def faults(emulator: tuple[str, aiohttp.ClientSession], table: dict[str, Any]) -> None:
    url, session = emulator
    async with session.put(f"{url}/_sandbox/faults", json={"faults": table}) as response:
        assert response.status == 200, await response.text()


def event(n: int) -> dict[str, Any]:
    return {
        "name": "customers/events",
        "command_id": f"c{n}",
        "data": {
            "customer_ids": {"registered": f"kund{n}@example.se"},
            "event_type": "purchase",
            "timestamp": 1_700_000_000 + n,
            "properties": {"purchase_id": f"p{n}", "total_price": 10.0},
        },
    }


async def test_the_relay_feeds_the_tills_breaker(
    emulator: tuple[str, aiohttp.ClientSession],
) -> None:
    url = emulator[0]
    shop = integration("shop", url)
    metrics = CoreMetrics.create()
    breakers = CircuitBreakers(FAILURES, 60, 60, metrics)
    http = HttpClients()
    settings = Settings(relay_concurrency=1)
    tenants = TenantCache(
        Lister([shop]), http, settings, metrics, clock=lambda: 0.0, breakers=breakers
    )
    try:
        tenant = await tenants.get(shop.id)
        assert tenant is not None
        # Bloomreach refuses a command (400 on the batch): it is up, nothing counts.
        await faults(emulator, {"batch": {"error_rate": 1, "error_status": 400}})
        for n in range(FAILURES + 1):
            with pytest.raises(BloomreachError):
                await tenant.sender.send([event(n)])
        assert (status := breakers.status(shop)) is not None and status.state == "closed"
        # An outage the relay sees opens the circuit the tills' calls go through.
        await faults(emulator, {"batch": {"error_rate": 1, "error_status": 503}})
        for n in range(FAILURES):
            with pytest.raises(BloomreachError):
                await tenant.sender.send([event(n)])
        assert (status := breakers.status(shop)) is not None and status.state == "open"
        with pytest.raises(CircuitOpen):
            await call(breakers, shop, None)
        # The relay is never refused; its next delivery that gets through closes it.
        await faults(emulator, {})
        results = await tenant.sender.send([event(99)])
        assert [r.success for r in results] == [True]
        assert (status := breakers.status(shop)) is not None and status.state == "closed"
        await call(breakers, shop, None)
    finally:
        await tenants.close()
        await http.close()
