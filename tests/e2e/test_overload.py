"""Issue 11, item 3: no congestion collapse when one tenant's Bloomreach project is slow.

Real processes: one Bloomreach emulator serving two projects, core, edge, and two integrations
("slow" and "fast") on the same Bloomreach URL, as tenants on api.exponea.com are. The
emulator's per-project fault makes the slow tenant's project answer in seconds. Assertions are
about statuses and deadlines, not speed: the fast tenant is answered 200 throughout; the slow
tenant's excess is shed (503, Retry-After, Sitoo's error body) and no call is started that
cannot finish (no 504 while Bloomreach answers inside the call timeout); every answer comes
before Sitoo's 10 s POS timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.customer_stack import BR_READY, base_env
from harness.databases import sqlite_url
from harness.metrics import sample_value
from harness.processes import free_port, running
from harness.stack import Stack, stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_SECRET
from sandbox.driver.pos_client import POS_TIMEOUT_S

pytestmark = pytest.mark.slow

SLOW_PROJECT = "00000000-0000-4000-8000-0000000510e0"
FAST_PROJECT = "00000000-0000-4000-8000-00000000fa57"
SLOTS = 8  # Bloomreach calls in flight per integration
EDGE_MAX_IN_FLIGHT = 40  # customer requests in flight per integration at the edge


@dataclass
class Tenant:
    name: str
    username: str
    password: str


@dataclass
class TwoTenants:
    stack: Stack
    bloomreach_url: str
    slow: Tenant
    fast: Tenant


@dataclass
class Answer:
    status: int  # 0: no answer before Sitoo's POS timeout
    headers: dict[str, str]
    body: Any


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoTenants]:
    work: Path = tmp_path_factory.mktemp("overload")
    port = free_port()
    env = {
        **base_env(work / "data"),
        "SITOO_BR_BLOOMREACH_CALL_SLOTS": str(SLOTS),
        "SITOO_BR_EDGE_INTEGRATION_MAX_IN_FLIGHT": str(EDGE_MAX_IN_FLIGHT),
    }
    emulator_args = ["-m", "sandbox.bloomreach", "--port", str(port)]
    emulator_args += ["--project-token", SLOW_PROJECT, "--project-token", FAST_PROJECT]
    with (
        running("bloomreach", emulator_args, {}, work / "logs", BR_READY),
        stack(sqlite_url(work), env, work / "logs") as s,
    ):
        s.start_core()
        s.start_edge()
        url = f"http://127.0.0.1:{port}"
        made = {}
        for name, project in (("slow", SLOW_PROJECT), ("fast", FAST_PROJECT)):
            created = s.create_integration(
                name,
                *("--market", "SE", "--bloomreach-url", url, "--project-token", project),
                *("--key-id", DEFAULT_KEY_ID, "--bloomreach-secret", DEFAULT_SECRET),
            )
            credentials = created["credentials"]
            made[name] = Tenant(name, credentials["spi_username"], credentials["spi_password"])
        yield TwoTenants(s, url, made["slow"], made["fast"])


async def _faults(session: aiohttp.ClientSession, url: str, faults: dict[str, Any]) -> None:
    async with session.put(f"{url}/_sandbox/faults", json={"faults": faults}) as response:
        assert response.status == 200, await response.text()


async def _search(session: aiohttp.ClientSession, edge: str, tenant: Tenant, n: int) -> Answer:
    url = f"{edge}/sitoo/{tenant.name}/customers?key_type=email&key=till{n}@example.se"
    headers = {"Authorization": aiohttp.encode_basic_auth(tenant.username, tenant.password)}
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=POS_TIMEOUT_S)
        ) as response:
            return Answer(response.status, dict(response.headers), await response.json())
    except TimeoutError:
        return Answer(0, {}, None)


async def _metrics(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


def _core_metrics_url(t: TwoTenants) -> str:
    return f"http://{t.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"


def _assert_shed_properly(answer: Answer) -> None:
    assert answer.status == 503
    assert answer.headers.get("Retry-After", "").isdigit(), answer.headers
    assert int(answer.headers["Retry-After"]) >= 1
    body = answer.body
    assert set(body) == {"request_id", "error_code", "error_data"}, body
    assert body["error_code"] and body["error_data"]["message"]
    assert body["request_id"] == answer.headers["X-Request-ID"]


async def test_a_slow_project_does_not_starve_another_tenant(tenants: TwoTenants) -> None:
    edge = tenants.stack.edge_url
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Inside the 5 s call timeout, but far slower than the fast tenant's project.
        await _faults(session, tenants.bloomreach_url, {f"*@{SLOW_PROJECT}": {"latency_ms": 3000}})
        try:
            burst = [
                asyncio.create_task(_search(session, edge, tenants.slow, n)) for n in range(200)
            ]
            fast: list[Answer] = []
            while not all(task.done() for task in burst) or len(fast) < 10:
                fast.append(await _search(session, edge, tenants.fast, len(fast)))
            slow = [task.result() for task in burst]
        finally:
            await _faults(session, tenants.bloomreach_url, {})
        core = await _metrics(session, _core_metrics_url(tenants))
        edge_metrics = await _metrics(session, f"{edge}/metrics")

    # The other tenant's tills were answered throughout.
    assert [a.status for a in fast] == [200] * len(fast)
    # The slow tenant: served up to what its project can do in time, the rest shed at once.
    statuses = [a.status for a in slow]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # no 504, no POS timeout
    assert statuses.count(200) >= SLOTS
    assert statuses.count(503) >= 200 - EDGE_MAX_IN_FLIGHT
    for answer in slow:
        if answer.status == 503:
            _assert_shed_properly(answer)
    # Shed at the edge (over its in-flight cap) and in the core (no time to finish a call).
    assert (sample_value(edge_metrics, "edge_shed_total") or 0) >= 200 - EDGE_MAX_IN_FLIGHT
    assert _shed_in_core(core, "slow") > 0
    assert _shed_in_core(core, "fast") == 0


def _shed_in_core(metrics: str, integration: str) -> float:
    total = 0.0
    for reason in ("queue_full", "no_time"):
        value = sample_value(
            metrics, "core_bloomreach_shed_total", integration=integration, reason=reason
        )
        assert value is not None  # exported (at 0) once the integration made a call
        total += value
    return total


async def test_a_project_slower_than_the_timeout_gets_no_more_calls(
    tenants: TwoTenants,
) -> None:
    edge = tenants.stack.edge_url
    calls = "core_upstream_request_duration_seconds_count"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Slower than the 5 s cap on one Bloomreach call: nothing can succeed.
        await _faults(session, tenants.bloomreach_url, {f"*@{SLOW_PROJECT}": {"latency_ms": 7000}})
        try:
            first = await asyncio.gather(
                *(_search(session, edge, tenants.slow, n) for n in range(20))
            )
            before = sample_value(
                await _metrics(session, _core_metrics_url(tenants)), calls, operation="attributes"
            )
            second = await asyncio.gather(
                *(_search(session, edge, tenants.slow, n) for n in range(20))
            )
            after = sample_value(
                await _metrics(session, _core_metrics_url(tenants)), calls, operation="attributes"
            )
        finally:
            await _faults(session, tenants.bloomreach_url, {})

    # Every answer inside the deadline: calls in flight time out (504), the rest are shed.
    assert {a.status for a in first} <= {503, 504}, [a.status for a in first]
    # Once the core knows the project is too slow, it starts at most one probe call at a time
    # instead of a call per request (the fast tenant's calls are not in this window).
    assert {a.status for a in second} <= {503, 504}
    assert before is not None and after is not None
    assert after - before <= 2
    for answer in second:
        if answer.status == 503:
            _assert_shed_properly(answer)
