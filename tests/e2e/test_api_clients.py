"""API clients of the core's gRPC API, as real processes: named clients made with the CLI,
scopes enforced per RPC, rotation with overlap, deletion, and the client as a metrics label
and a log field. The customer calls go to a real core and the Bloomreach emulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from core_service.domain.api_clients import new_token
from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from harness.metrics import sample_value
from harness.processes import ROOT
from sitoo_bloomreach.v1 import admin_pb2, admin_pb2_grpc, customers_pb2, customers_pb2_grpc

pytestmark = pytest.mark.slow

Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def cs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    with customer_stack(tmp_path_factory.mktemp("api-clients")) as stack:
        yield stack


def client_cli(cs: CustomerStack, *args: str) -> dict[str, Any]:
    result = cs.stack.cli("client", *args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def create(cs: CustomerStack, name: str, *scopes: str) -> str:
    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    issued = client_cli(cs, "create", name, *scope_args)
    assert issued["client"]["name"] == name
    assert sorted(issued["client"]["scopes"]) == sorted(scopes)
    token: str = issued["token"]
    assert token.startswith("sbr_")
    return token


def metadata(cs: CustomerStack, token: str) -> Metadata:
    basic = aiohttp.encode_basic_auth(cs.username, cs.password)
    return (("authorization", f"Bearer {token}"), ("x-sitoo-authorization", basic))


async def search(cs: CustomerStack, token: str, email: str) -> list[str]:
    async with grpc.aio.insecure_channel(cs.stack.env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = customers_pb2_grpc.CustomerServiceStub(channel)
        found = await stub.SearchCustomers(
            customers_pb2.SearchCustomersRequest(
                integration=INTEGRATION, key_type="email", key=email
            ),
            metadata=metadata(cs, token),
            timeout=10,
        )
    return [c.customer_id for c in found.customers]


async def create_customer(cs: CustomerStack, token: str, email: str) -> str:
    async with grpc.aio.insecure_channel(cs.stack.env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = customers_pb2_grpc.CustomerServiceStub(channel)
        created = await stub.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                integration=INTEGRATION,
                customer=customers_pb2.CustomerInput(email=email, name_first="Ada"),
            ),
            metadata=metadata(cs, token),
            timeout=10,
        )
    return created.customer_id


async def list_integrations(cs: CustomerStack, token: str) -> list[str]:
    async with grpc.aio.insecure_channel(cs.stack.env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        listed = await stub.ListIntegrations(
            admin_pb2.ListIntegrationsRequest(), metadata=metadata(cs, token), timeout=10
        )
    return [i.name for i in listed.integrations]


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def core_metrics(cs: CustomerStack) -> str:
    url = f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


def email() -> str:
    return f"api-{uuid.uuid4().hex[:10]}@example.se"


async def test_scopes_are_enforced_per_method(cs: CustomerStack) -> None:
    reader = create(cs, "reporting", "customers:read")
    writer = create(cs, "crm-sync", "customers:read", "customers:write")
    address = email()
    assert await search(cs, reader, address) == []  # reads pass the door and reach Bloomreach
    denied = await refused(create_customer(cs, reader, address))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'reporting' lacks the 'customers:write' scope" in (denied.details() or "")
    admin = await refused(list_integrations(cs, reader))
    assert admin.code() == grpc.StatusCode.PERMISSION_DENIED
    # A client with the write scope creates; the reader then finds what it created.
    customer_id = await create_customer(cs, writer, address)
    assert await search(cs, reader, address) == [customer_id]
    # A made-up token in the right shape is nobody.
    forged = "sbr_" + reader[4:16] + "_" + "A" * 43
    nobody = await refused(search(cs, forged, address))
    assert nobody.code() == grpc.StatusCode.UNAUTHENTICATED

    # The client is a label of the core's per-RPC metrics and a field of its logs.
    text = await core_metrics(cs)
    handled = "core_grpc_server_handling_seconds_count"
    assert sample_value(text, handled, method="SearchCustomers", code="OK", client="reporting")
    assert sample_value(text, handled, method="CreateCustomer", code="OK", client="crm-sync")
    refusals = "core_grpc_auth_refusals_total"
    assert (
        sample_value(
            text, refusals, method="CreateCustomer", code="PERMISSION_DENIED", client="reporting"
        )
        == 1
    )
    assert sample_value(
        text, refusals, method="SearchCustomers", code="UNAUTHENTICATED", client="_unknown_"
    )
    assert cs.stack.core is not None
    logged = [
        json.loads(line)
        for line in cs.stack.core.stderr_tail(2000).splitlines()
        if line.startswith("{") and '"reporting"' in line
    ]
    assert any(
        e["msg"] == "call refused: missing scope" and e["client"] == "reporting" for e in logged
    )


async def test_the_built_in_clients_keep_working(cs: CustomerStack) -> None:
    env = cs.stack.env
    # The edge presents SITOO_BR_SERVICE_TOKEN: the built-in `edge` client.
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{cs.edge_url}/sitoo/{INTEGRATION}/customers",
            params={"key_type": "email", "key": email()},
            headers={"Authorization": metadata(cs, "")[1][1]},
        ) as response,
    ):
        assert response.status == 200
    assert await list_integrations(cs, env["SITOO_BR_ADMIN_TOKEN"]) == [INTEGRATION]
    text = await core_metrics(cs)
    handled = "core_grpc_server_handling_seconds_count"
    assert sample_value(text, handled, method="SearchCustomers", code="OK", client="edge")
    assert sample_value(text, handled, method="ListIntegrations", code="OK", client="admin")
    listed = client_cli(cs, "list")["clients"]
    builtins = {c["name"]: c for c in listed if c.get("builtin")}
    assert sorted(builtins["edge"]["scopes"]) == [
        "customers:read",
        "customers:write",
        "orders:ingest",
    ]
    assert builtins["admin"]["scopes"] == ["admin"]
    # Their names cannot be taken, and their tokens are settings, not rotated here.
    taken = cs.stack.cli("client", "create", "edge", "--scope", "admin")
    assert taken.returncode == 1 and "built-in client" in taken.stderr
    rotate = cs.stack.cli("client", "rotate", "admin")
    assert rotate.returncode == 1 and "SITOO_BR_ADMIN_TOKEN" in rotate.stderr


async def test_rotation_overlaps_until_revoked_and_delete_refuses(cs: CustomerStack) -> None:
    old = create(cs, "loyalty", "customers:read")
    address = email()
    assert await search(cs, old, address) == []
    rotated = client_cli(cs, "rotate", "loyalty", "--grace", "1h")
    new = rotated["token"]
    assert new != old
    tokens = rotated["client"]["tokens"]
    assert len(tokens) == 2
    assert old[4:16] == tokens[0]["key_id"] and int(tokens[0]["expires_at"]) > time.time() + 3000
    assert new[4:16] == tokens[1]["key_id"] and "expires_at" not in tokens[1]
    # The overlap: both work, so the caller can switch without downtime.
    assert await search(cs, old, address) == []
    assert await search(cs, new, address) == []
    revoked = cs.stack.cli("client", "revoke-old", "loyalty")
    assert revoked.returncode == 0, revoked.stderr
    gone = await refused(search(cs, old, address))
    assert gone.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await search(cs, new, address) == []
    # Listing never shows a token, only its public key id.
    listing = cs.stack.cli("client", "list")
    assert listing.returncode == 0 and new not in listing.stdout and new[4:16] in listing.stdout
    not_confirmed = cs.stack.cli("client", "delete", "loyalty")
    assert not_confirmed.returncode == 2
    deleted = cs.stack.cli("client", "delete", "loyalty", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    refused_after_delete = await refused(search(cs, new, address))
    assert refused_after_delete.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_old_token_ends_with_its_grace_period(cs: CustomerStack) -> None:
    old = create(cs, "kiosk", "customers:read")
    rotated = client_cli(cs, "rotate", "kiosk", "--grace", "2s")
    expires_at = int(rotated["client"]["tokens"][0]["expires_at"])
    address = email()
    deadline = time.monotonic() + 30
    while True:
        try:
            await search(cs, old, address)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
            break
        assert time.monotonic() < deadline, "the old token outlived its grace period"
    # Refused only once its time was up, and the new token is unaffected.
    assert time.time() >= expires_at
    assert await search(cs, rotated["token"], address) == []


def _docs_example() -> str:
    text = (ROOT / "docs" / "grpc.md").read_text()
    block = text.split("<!-- example:", 1)[1].split("```python\n", 1)[1]
    return block.split("```", 1)[0]


def _run_example(
    script: Path, address: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), address],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_python_example_in_the_docs_works(cs: CustomerStack, tmp_path: Path) -> None:
    writer = create(cs, "docs-writer", "customers:read", "customers:write")
    address = email()
    customer_id = await create_customer(cs, writer, address)
    script = tmp_path / "find.py"
    script.write_text(_docs_example())
    env = {
        **os.environ,
        "SBR_CORE_TARGET": cs.stack.env["SITOO_BR_CORE_TARGET"],
        "SBR_CLIENT_TOKEN": create(cs, "docs-reader", "customers:read"),
        "SBR_INTEGRATION": INTEGRATION,
        "SBR_SPI_USER": cs.username,
        "SBR_SPI_PASSWORD": cs.password,
    }
    found = await asyncio.to_thread(_run_example, script, address, env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split()[:2] == [customer_id, "Ada"]
    # The same script with a token that is nobody's says so.
    env["SBR_CLIENT_TOKEN"] = new_token()[0]
    refused_run = await asyncio.to_thread(_run_example, script, address, env)
    assert refused_run.returncode == 1
    assert refused_run.stderr.startswith("UNAUTHENTICATED:")


async def _reflected_services(cs: CustomerStack, token: str) -> set[str]:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    names: set[str] = set()
    async with grpc.aio.insecure_channel(cs.stack.env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for response in stub.ServerReflectionInfo(
            iter([request]), metadata=(("authorization", f"Bearer {token}"),)
        ):
            names |= {s.name for s in response.list_services_response.service}
    return names


async def test_reflection_serves_any_known_client(cs: CustomerStack) -> None:
    # What grpcurl does first (docs/grpc.md): a client with any scope may read the schema.
    token = create(cs, "schema-reader", "orders:ingest")
    assert "sitoo_bloomreach.v1.CustomerService" in await _reflected_services(cs, token)
    nobody = await refused(_reflected_services(cs, new_token()[0]))
    assert nobody.code() == grpc.StatusCode.UNAUTHENTICATED
