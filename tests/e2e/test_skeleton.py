"""The frame end to end: real processes, real gRPC, real databases."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.metrics import sample_value
from harness.processes import cli
from harness.stack import Stack, stack
from sitoo_bloomreach.v1 import admin_pb2, admin_pb2_grpc, customers_pb2, customers_pb2_grpc

BR_SECRET = "br-secret-Zq81x"
SITOO_PASSWORD = "sitoo-pass-Qm27y"


@pytest.fixture
def running_stack(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[Stack]:
    with stack(database_url, service_env, tmp_path / "logs") as s:
        s.start_core()
        s.start_edge()
        yield s


def basic(user: str, password: str) -> str:
    return aiohttp.encode_basic_auth(user, password)


async def http(
    method: str, url: str, *, auth: str | None = None, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    headers = dict(kwargs.pop("headers", {}))
    if auth is not None:
        headers["Authorization"] = auth
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as response,
    ):
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, dict(response.headers)


def create(s: Stack, name: str) -> dict[str, Any]:
    return s.create_integration(
        name,
        "--company",
        f"{name} AB",
        "--market",
        "se",
        "--bloomreach-url",
        "http://127.0.0.1:9300",
        "--project-token",
        f"token-{name}",
        "--key-id",
        f"key-{name}",
        "--bloomreach-secret",
        BR_SECRET,
        "--sitoo-account",
        "1500",
        "--sitoo-url",
        "http://127.0.0.1:9400",
        "--sitoo-api-id",
        "1500-1",
        "--sitoo-password",
        SITOO_PASSWORD,
        "--consent",
        "newsletter=newsletter,default=yes,label=Newsletter",
    )


async def test_credentials_open_only_their_own_integration(running_stack: Stack) -> None:
    s = running_stack
    a = create(s, "alpha")
    b = create(s, "beta")
    a_spi = basic(a["credentials"]["spi_username"], a["credentials"]["spi_password"])
    b_spi = basic(b["credentials"]["spi_username"], b["credentials"]["spi_password"])
    a_hook = basic(a["credentials"]["webhook_username"], a["credentials"]["webhook_password"])
    search = "/customers?key_type=email&key=anna%40example.com"

    status, body, headers = await http("GET", f"{s.edge_url}/sitoo/alpha{search}")
    assert status == 401
    assert body is not None and body["error_code"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Basic")

    wrong = basic(a["credentials"]["spi_username"], "not-the-password")
    status, body, _ = await http("GET", f"{s.edge_url}/sitoo/alpha{search}", auth=wrong)
    assert status == 401
    assert body is not None and set(body) == {"request_id", "error_code", "error_data"}

    # Beta's credential on alpha's path, and alpha's on beta's: refused both ways.
    assert (await http("GET", f"{s.edge_url}/sitoo/alpha{search}", auth=b_spi))[0] == 401
    assert (await http("GET", f"{s.edge_url}/sitoo/beta{search}", auth=a_spi))[0] == 401
    # The webhook credential is not an SPI credential, nor the reverse.
    assert (await http("GET", f"{s.edge_url}/sitoo/alpha{search}", auth=a_hook))[0] == 401
    assert (await http("POST", f"{s.edge_url}/sitoo/alpha/events", auth=a_spi, json=[]))[0] == 401
    # An integration that does not exist answers exactly like a wrong password.
    assert (await http("GET", f"{s.edge_url}/sitoo/gamma{search}", auth=a_spi))[0] == 401

    # The right credential gets through authentication (consents need no Bloomreach call).
    status, body, _ = await http("GET", f"{s.edge_url}/sitoo/alpha/consents", auth=a_spi)
    assert status == 200, body
    assert body is not None and body[0]["consent_id"] == "newsletter"
    # The webhook passes authentication too: an empty batch is malformed (400, quarantined).
    status, _, _ = await http("POST", f"{s.edge_url}/sitoo/alpha/events", auth=a_hook, json=[])
    assert status == 400

    # Auth failures are counted per integration.
    async with aiohttp.ClientSession() as session, session.get(f"{s.edge_url}/metrics") as resp:
        metrics = await resp.text()
    route = "/sitoo/{integration}/customers"
    assert (sample_value(metrics, "edge_auth_failures_total", route=route) or 0) >= 6
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics") as resp,
    ):
        core_metrics = await resp.text()
    failures = "core_sitoo_auth_failures_total"
    assert sample_value(core_metrics, failures, integration="alpha", credential="spi") == 3
    assert sample_value(core_metrics, failures, integration="beta", credential="spi") == 1
    assert sample_value(core_metrics, failures, integration="_unknown_", credential="spi") == 1
    assert sample_value(core_metrics, failures, integration="alpha", credential="webhook") == 1
    handled = "core_grpc_server_handling_seconds_count"
    assert sample_value(core_metrics, handled, method="ListConsents", code="OK") == 1
    consents = "/sitoo/{integration}/consents"
    assert sample_value(metrics, "edge_http_requests_total", route=consents, status="200") == 1


async def test_request_id_is_taken_or_made(running_stack: Stack) -> None:
    s = running_stack
    url = f"{s.edge_url}/sitoo/alpha/customers?key_type=email&key=x"
    status, body, headers = await http("GET", url, headers={"X-Request-ID": "pos-call-42"})
    assert status == 401
    assert headers["X-Request-ID"] == "pos-call-42"
    assert body is not None and body["request_id"] == "pos-call-42"
    # Unsafe ids are replaced rather than echoed into logs and headers.
    _, body, headers = await http("GET", url, headers={"X-Request-ID": "bad id\u00e9"})
    assert headers["X-Request-ID"] != "bad id\u00e9"
    assert body is not None and body["request_id"] == headers["X-Request-ID"]


async def test_oversized_body_is_a_bad_request(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "SITOO_BR_EDGE_MAX_BODY_BYTES": "2048"}
    with stack(database_url, env, tmp_path / "logs") as s:
        s.start_core()
        s.start_edge()
        created = create(s, "alpha")
        hook = basic(
            created["credentials"]["webhook_username"], created["credentials"]["webhook_password"]
        )
        status, body, _ = await http(
            "POST", f"{s.edge_url}/sitoo/alpha/events", auth=hook, data=b"[" + b" " * 4096 + b"]"
        )
        assert status == 400
        assert body is not None and "larger than 2048 bytes" in body["error_data"]["message"]


async def test_secrets_are_unreadable_at_rest(running_stack: Stack) -> None:
    s = running_stack
    created = create(s, "alpha")
    spi_password = created["credentials"]["spi_password"]
    url = s.env["SITOO_BR_DATABASE_URL"]
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            rows = await connection.fetch("SELECT * FROM integrations")
        finally:
            await connection.close()
        raw = repr([dict(r) for r in rows]).encode()
    assert b"token-alpha" in raw  # the check reads the right data
    for secret in (BR_SECRET, SITOO_PASSWORD, spi_password):
        assert secret.encode() not in raw
    # Read APIs never return them either.
    shown = s.cli_json("integration", "show", "alpha")
    text = repr(shown)
    assert BR_SECRET not in text and SITOO_PASSWORD not in text and spi_password not in text
    assert shown["bloomreach"]["has_api_secret"] is True
    assert shown["sitoo"]["has_api_password"] is True


async def test_rotation_retires_the_old_credential(running_stack: Stack) -> None:
    s = running_stack
    created = create(s, "alpha")
    old = basic(created["credentials"]["spi_username"], created["credentials"]["spi_password"])
    old_hook = basic(
        created["credentials"]["webhook_username"], created["credentials"]["webhook_password"]
    )
    url = f"{s.edge_url}/sitoo/alpha/customers?key_type=email&key=x"
    # "x" is no e-mail: a 400 from the core proves the credential passed authentication.
    assert (await http("GET", url, auth=old))[0] == 400
    rotated = s.cli_json("integration", "rotate-credentials", "alpha", "--which", "spi")
    assert rotated["spi_password"] != created["credentials"]["spi_password"]
    assert "webhook_password" not in rotated
    assert (await http("GET", url, auth=old))[0] == 401
    new = basic(rotated["spi_username"], rotated["spi_password"])
    assert (await http("GET", url, auth=new))[0] == 400
    # The webhook credential was not rotated and still works.
    hook_url = f"{s.edge_url}/sitoo/alpha/events"
    assert (await http("POST", hook_url, auth=old_hook, json=[]))[0] == 400  # past auth


def test_cli_manages_integrations(running_stack: Stack) -> None:
    s = running_stack
    create(s, "alpha")
    listed = s.cli("integration", "list")
    assert listed.returncode == 0 and "alpha" in listed.stdout
    updated = s.cli_json("integration", "update", "alpha", "--company", "Renamed AB", "--disable")
    assert updated["company"] == "Renamed AB"
    assert updated.get("enabled", False) is False
    assert updated["bloomreach"]["project_token"] == "token-alpha"  # untouched
    duplicate = s.cli("integration", "create", "alpha")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad = s.cli("integration", "create", "Bad_Name")
    assert bad.returncode == 1 and "integration name" in bad.stderr
    bad_map = s.cli("integration", "update", "alpha", "--map", "shoe=properties.shoe")
    assert bad_map.returncode == 1 and "unknown Sitoo field" in bad_map.stderr
    refused = s.cli("integration", "delete", "alpha")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert s.cli("integration", "delete", "alpha", "--yes").returncode == 0
    missing = s.cli("integration", "show", "alpha")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_cli_errors_are_clear(service_env: dict[str, str], tmp_path: Path) -> None:
    # No core running: exit 69 with advice.
    result = cli(["integration", "list"], service_env)
    assert result.returncode == 69
    assert "cannot reach the core" in result.stderr
    assert cli(["integration"], service_env).returncode == 2
    help_text = cli(["integration", "create", "--help"], service_env)
    assert help_text.returncode == 0 and "--bloomreach-secret-file" in help_text.stdout


async def test_grpc_requires_the_right_token(running_stack: Stack) -> None:
    s = running_stack
    target = s.env["SITOO_BR_CORE_TARGET"]
    service = (("authorization", f"Bearer {s.env['SITOO_BR_SERVICE_TOKEN']}"),)
    admin = (("authorization", f"Bearer {s.env['SITOO_BR_ADMIN_TOKEN']}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        admin_stub = admin_pb2_grpc.AdminServiceStub(channel)
        customers = customers_pb2_grpc.CustomerServiceStub(channel)
        listing = admin_pb2.ListIntegrationsRequest()
        for metadata in ((), (("authorization", "Bearer nope"),)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await admin_stub.ListIntegrations(listing, metadata=metadata, timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # The service token is the built-in `edge` client: known, but without the admin scope.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await admin_stub.ListIntegrations(listing, metadata=service, timeout=5)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "'edge' lacks the 'admin' scope" in (info.value.details() or "")
        assert (await admin_stub.ListIntegrations(listing, metadata=admin, timeout=5)) is not None
        search = customers_pb2.SearchCustomersRequest(integration="x", key_type="email", key="k")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await customers.SearchCustomers(search, metadata=admin, timeout=5)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # The service token passes the door; the missing Sitoo credential is refused inside.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await customers.SearchCustomers(search, metadata=service, timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "Basic" in (info.value.details() or "")
        # Health is open, for probes.
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(running_stack: Stack) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    s = running_stack
    admin = (("authorization", f"Bearer {s.env['SITOO_BR_ADMIN_TOKEN']}"),)
    async with grpc.aio.insecure_channel(s.env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names: set[str] = set()
        async for response in stub.ServerReflectionInfo(iter([request]), metadata=admin):
            names |= {svc.name for svc in response.list_services_response.service}
    assert {
        "sitoo_bloomreach.v1.CustomerService",
        "sitoo_bloomreach.v1.OrderEventService",
        "sitoo_bloomreach.v1.AdminService",
        "grpc.health.v1.Health",
    } <= names


async def _wait_ready(url: str, expected: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            status = (await http("GET", f"{url}/readyz"))[0]
        except aiohttp.ClientError:
            status = None
        if status == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz stayed {status}, expected {expected}")


async def test_readiness_follows_the_core(running_stack: Stack) -> None:
    s = running_stack
    await _wait_ready(s.edge_url, 200)
    assert s.core is not None
    assert s.core.terminate() == 0
    await _wait_ready(s.edge_url, 503)
    assert (await http("GET", f"{s.edge_url}/healthz"))[0] == 200  # the edge itself is alive
    # While the core is down, Sitoo gets a retryable answer, never a 500.
    status, body, headers = await http(
        "POST", f"{s.edge_url}/sitoo/alpha/events", auth=basic("u", "p"), json=[]
    )
    assert status == 503 and body is not None and headers.get("Retry-After")
    s.start_core()
    await _wait_ready(s.edge_url, 200)
