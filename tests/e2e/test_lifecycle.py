"""Start-up, shutdown and transport security of the services, as real processes."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import re
import sqlite3
import time
from pathlib import Path

import aiohttp
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core_service.crypto import MasterKey
from harness.metrics import sample_value
from harness.processes import cli, free_port, running, spawn
from harness.stack import stack
from sitoo_bloomreach.v1 import admin_pb2, admin_pb2_grpc
from tests.support.eventually import eventually


def test_services_refuse_an_unmigrated_database(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "SITOO_BR_DATABASE_URL": sqlite_database_url}
    core = spawn("core", ["-m", "cli.main", "core"], env, tmp_path, ready=None)
    assert core.process.wait(timeout=30) == 78
    assert "run `sitoo-bloomreach migrate` first" in core.stderr_tail()


def test_missing_or_wrong_master_key_is_a_clear_start_up_error(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "SITOO_BR_DATABASE_URL": sqlite_database_url}
    assert cli(["migrate"], env).returncode == 0
    # First start seals the canary with the right key.
    with running("core", ["-m", "cli.main", "core"], env, tmp_path, "core listening"):
        pass
    missing = {k: v for k, v in env.items() if k != "SITOO_BR_MASTER_KEY"}
    core = spawn("core-missing", ["-m", "cli.main", "core"], missing, tmp_path, ready=None)
    assert core.process.wait(timeout=30) == 78
    assert "SITOO_BR_MASTER_KEY or SITOO_BR_MASTER_KEY_FILE must be set" in core.stderr_tail()
    wrong = {**env, "SITOO_BR_MASTER_KEY": MasterKey.generate()}
    core = spawn("core-wrong", ["-m", "cli.main", "core"], wrong, tmp_path, ready=None)
    assert core.process.wait(timeout=30) == 78
    assert "not the key this database's secrets were sealed with" in core.stderr_tail()
    malformed = {**env, "SITOO_BR_MASTER_KEY": "too-short"}
    core = spawn("core-malformed", ["-m", "cli.main", "core"], malformed, tmp_path, ready=None)
    assert core.process.wait(timeout=30) == 78
    assert "master key" in core.stderr_tail()


def test_plaintext_grpc_is_refused_off_loopback(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **service_env,
        "SITOO_BR_DATABASE_URL": sqlite_database_url,
        "SITOO_BR_CORE_LISTEN": f"0.0.0.0:{free_port()}",
    }
    assert cli(["migrate"], env).returncode == 0
    core = spawn("core", ["-m", "cli.main", "core"], env, tmp_path, ready=None)
    assert core.process.wait(timeout=30) == 78
    assert "refusing to serve gRPC in plaintext" in core.stderr_tail()


def _lock_database(url: str) -> sqlite3.Connection:
    """Hold SQLite's write lock, so the next write in the core waits (busy timeout 5 s)."""
    connection = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=10)
    connection.execute("BEGIN IMMEDIATE")
    return connection


async def test_sigterm_drains_in_flight_calls(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with stack(sqlite_database_url, service_env, tmp_path / "logs") as s:
        core = s.start_core()
        admin = (("authorization", f"Bearer {s.env['SITOO_BR_ADMIN_TOKEN']}"),)
        lock = _lock_database(sqlite_database_url)
        async with grpc.aio.insecure_channel(s.env["SITOO_BR_CORE_TARGET"]) as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            in_flight = asyncio.ensure_future(
                stub.CreateIntegration(
                    admin_pb2.CreateIntegrationRequest(name="during-shutdown"),
                    metadata=admin,
                    timeout=30,
                )
            )
            metrics_url = f"http://{s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"

            async def creations_in_flight() -> float:
                async with aiohttp.ClientSession() as session, session.get(metrics_url) as r:
                    text = await r.text()
                gauge = "core_grpc_server_in_flight"
                return sample_value(text, gauge, method="CreateIntegration") or 0.0

            async def serving() -> bool:
                health = health_pb2_grpc.HealthStub(channel)
                try:
                    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                except grpc.aio.AioRpcError:
                    return False
                return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

            # The call has reached the core and waits there for the database lock.
            await eventually(creations_in_flight, lambda n: n == 1, description="call in core")
            assert not in_flight.done()
            core.process.send_signal(15)
            # The core reports NOT_SERVING just before it stops taking calls.
            await eventually(serving, lambda up: not up, description="core draining")
            # Draining: new calls are refused while the old one is still being served.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListIntegrations(
                    admin_pb2.ListIntegrationsRequest(), metadata=admin, timeout=5
                )
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert not in_flight.done()
            lock.execute("COMMIT")
            lock.close()
            created = await in_flight
        assert created.integration.name == "during-shutdown"
        assert core.process.wait(timeout=30) == 0
        with sqlite3.connect(sqlite_database_url.split("///", 1)[1]) as connection:
            names = [r[0] for r in connection.execute("SELECT name FROM integrations")]
        assert names == ["during-shutdown"]


async def test_deadline_is_honoured(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with stack(sqlite_database_url, service_env, tmp_path / "logs") as s:
        s.start_core()
        admin = (("authorization", f"Bearer {s.env['SITOO_BR_ADMIN_TOKEN']}"),)
        lock = _lock_database(sqlite_database_url)
        try:
            async with grpc.aio.insecure_channel(s.env["SITOO_BR_CORE_TARGET"]) as channel:
                stub = admin_pb2_grpc.AdminServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.CreateIntegration(
                        admin_pb2.CreateIntegrationRequest(name="too-late"),
                        metadata=admin,
                        timeout=0.5,
                    )
                assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        # The abandoned call did not half-happen.
        listed = s.cli_json("integration", "list")
        assert listed.get("integrations", []) == []


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "core.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("core.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "core.crt", directory / "core.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_between_edge_cli_and_core(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    env = {
        **service_env,
        "SITOO_BR_CORE_TLS_CERT_FILE": str(cert),
        "SITOO_BR_CORE_TLS_KEY_FILE": str(key),
        "SITOO_BR_CORE_TLS_CA_FILE": str(cert),
    }
    with stack(sqlite_database_url, env, tmp_path / "logs") as s:
        s.start_core()
        s.start_edge()
        assert s.cli("integration", "list").returncode == 0  # the CLI speaks TLS
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 20
            status = 0
            while time.monotonic() < deadline and status != 200:
                async with session.get(f"{s.edge_url}/readyz") as response:
                    status = response.status
                await asyncio.sleep(0.1)
        assert status == 200  # the edge reaches the core over TLS
        # A plaintext client gets nowhere.
        plain = {k: v for k, v in s.env.items() if k != "SITOO_BR_CORE_TLS_CA_FILE"}
        refused = cli(["integration", "list"], plain, timeout=60)
        assert refused.returncode == 69


def test_run_starts_everything_on_the_embedded_default(tmp_path: Path) -> None:
    """What `make run` does on a fresh machine: no settings beyond free ports."""
    env = {
        "SITOO_BR_DATA_DIR": str(tmp_path / "var"),
        "SITOO_BR_EDGE_PORT": str(free_port()),
        "SITOO_BR_CORE_LISTEN": f"127.0.0.1:{(core_port := free_port())}",
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_SANDBOX_BLOOMREACH_PORT": str(free_port()),
        "SITOO_BR_SANDBOX_SITOO_PORT": str(free_port()),
        "SITOO_BR_CONSOLE_PORT": "0",
    }
    with running("run", ["-m", "cli.main", "run"], env, tmp_path, "ready") as service:
        text = "".join(service.output)
        assert "sandbox integration 'sandbox' is ready" in text
        users = re.findall(r"^    user (\S+)  \(password in (\S+): (\w+)\)$", text, re.M)
        assert [user for user, _, _ in users] == ["sandbox-spi", "sandbox-webhook"]
        # The passwords are in the 0600 file it names, not on the terminal.
        defaults = json.loads(Path(users[0][1]).read_text())
        for _, _, key in users:
            assert defaults[key] and defaults[key] not in text
        # The CLI finds the core and its admin token without any setting.
        listed = cli(["integration", "show", "sandbox", "--json"], env)
        assert listed.returncode == 0, listed.stderr
        assert env["SITOO_BR_SANDBOX_BLOOMREACH_PORT"] in listed.stdout
        for name in ("master.key", "service.token", "admin.token"):
            assert (tmp_path / "var" / name).stat().st_mode & 0o077 == 0
        assert service.terminate() == 0


@pytest.mark.parametrize(
    ("tool", "ready"),
    [("bloomreach", "bloomreach emulator listening"), ("sitoo", "sitoo emulator listening")],
)
def test_cli_starts_each_emulator(tool: str, ready: str, tmp_path: Path) -> None:
    args = ["-m", "cli.main", "sandbox", tool, "--port", "0"]
    with running(tool, args, {}, tmp_path, ready) as service:
        line = next(line for line in service.output if ready in line)
        url = line.split()[-1]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert service.terminate() == 0
