"""Start-up while the database is away: the core and the relay wait for it (logging why), start
normally when it comes, and give up after SITOO_BR_DATABASE_STARTUP_TIMEOUT_SECONDS with one
clear line and exit code 78. The edge has no database; it starts without the core and turns
ready when the core comes."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from harness.databases import postgres_database
from harness.processes import Service, cli, free_port, running, spawn

SERVICES = (("core", "core listening"), ("relay", "relay running"))
# `migrate` too: a migration job started beside a database still coming up.
GIVING_UP = (*SERVICES, ("migrate", "database at revision"))
PASSWORD = "pw-that-must-not-leak"


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_stderr(service: Service, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in service.stderr_tail(200):
            return
        if service.process.poll() is not None:
            raise AssertionError(f"{service.name} exited:\n{service.stderr_tail()}")
        time.sleep(0.05)
    raise AssertionError(f"{service.name} never logged {text!r}:\n{service.stderr_tail()}")


@pytest.mark.parametrize(("command", "_ready"), GIVING_UP)
def test_gives_up_after_the_window_with_one_line_naming_the_setting(
    command: str, _ready: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    closed = free_port()
    assert _refuses(closed)
    env = {
        **service_env,
        "SITOO_BR_DATABASE_URL": f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:{closed}/x",
        "SITOO_BR_DATABASE_STARTUP_TIMEOUT_SECONDS": "2",
        "SITOO_BR_RELAY_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
    }
    service = spawn(command, ["-m", "cli.main", command], env, tmp_path, ready=None)
    assert service.process.wait(timeout=60) == 78
    stderr = service.stderr_path.read_text() if service.stderr_path else ""
    assert "Traceback" not in stderr
    assert PASSWORD not in stderr
    assert stderr.count("database not reachable yet; retrying") >= 2  # it did retry
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "SITOO_BR_DATABASE_STARTUP_TIMEOUT_SECONDS" in errors[0]
    assert "did not answer within 2 s" in errors[0]
    assert f"127.0.0.1:{closed}" in errors[0]


def _cut(proxy: Service, port: int) -> None:
    proxy.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not _refuses(port):
        assert time.monotonic() < deadline, "the proxy never stopped listening"
        time.sleep(0.02)


@pytest.mark.postgres
def test_waits_for_a_database_that_comes_up(service_env: dict[str, str], tmp_path: Path) -> None:
    with postgres_database() as url:
        # Everything reaches the database only through a proxy that refuses, then forwards.
        host, database = url.rsplit("/", 1)
        target = int(host.rsplit(":", 1)[1])
        proxy_port = free_port()
        proxy_args = ["-m", "tests.support.tcp_proxy", str(proxy_port), str(target)]
        env = {
            **service_env,
            "SITOO_BR_DATABASE_URL": f"{host.rsplit(':', 1)[0]}:{proxy_port}/{database}",
            "SITOO_BR_DATABASE_STARTUP_TIMEOUT_SECONDS": "120",
            "SITOO_BR_RELAY_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        }
        with running("proxy", proxy_args, {}, tmp_path, "proxy listening") as proxy:
            # A migration job first, then the services, each started while it is refused.
            _cut(proxy, proxy_port)
            migrating = spawn("migrate", ["-m", "cli.main", "migrate"], env, tmp_path, None)
            _wait_for_stderr(migrating, "database not reachable yet; retrying")
            proxy.process.send_signal(signal.SIGUSR2)
            migrating.wait_for_line("database at revision", timeout=60)
            assert migrating.process.wait(timeout=60) == 0

            _cut(proxy, proxy_port)
            started = [
                spawn(command, ["-m", "cli.main", command], env, tmp_path, ready=None)
                for command, _ in SERVICES
            ]
            try:
                for service in started:
                    _wait_for_stderr(service, "database not reachable yet; retrying")
                    assert service.process.poll() is None
                proxy.process.send_signal(signal.SIGUSR2)
                for service, (_, ready) in zip(started, SERVICES, strict=True):
                    service.wait_for_line(ready, timeout=60)
                    _wait_for_stderr(service, '"msg": "database reachable"')
            finally:
                codes = [service.terminate() for service in started]
            assert codes == [0, 0]
            for service in (migrating, *started):
                assert "Traceback" not in service.stderr_tail(500)


async def test_edge_starts_without_the_core_and_turns_ready_with_it(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    # The edge starts first, so it must know the core's address before the core exists:
    # a fixed port here, not the port 0 the other tests give the core.
    core = f"127.0.0.1:{free_port()}"
    env = {
        **service_env,
        "SITOO_BR_DATABASE_URL": sqlite_database_url,
        "SITOO_BR_CORE_LISTEN": core,
        "SITOO_BR_CORE_TARGET": core,
    }
    assert cli(["migrate"], env).returncode == 0
    readyz = f"http://127.0.0.1:{env['SITOO_BR_EDGE_PORT']}/readyz"

    async def status(session: aiohttp.ClientSession) -> int:
        async with session.get(readyz) as response:
            return response.status

    with running("edge", ["-m", "cli.main", "edge"], env, tmp_path, "edge listening"):
        async with aiohttp.ClientSession() as session:
            assert await status(session) == 503
            with running("core", ["-m", "cli.main", "core"], env, tmp_path, "core listening"):
                deadline = time.monotonic() + 30
                code = await status(session)
                while code != 200 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    code = await status(session)
                assert code == 200
