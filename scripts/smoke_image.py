"""Smoke test of the built image, as CI runs it (`scripts/smoke_image.sh`).

From the image (buildah run, chroot isolation, the host's network): `migrate` against a fresh
PostgreSQL database, then `core`, `edge` and `relay`, and `integration create` through the
image's CLI. From the host (this checkout's .venv): the Bloomreach and Sitoo emulators and a
store day played by the driver against the image's edge. Passes when Bloomreach holds every
purchase and refund of the day; on any failure it prints each process's log and exits 1.

    .venv/bin/python scripts/smoke_image.py IMAGE [--results FILE]

Prints the image size and each process's start-up time (launch to its ready line), and
writes them as JSON to --results (BENCHMARKS.md quotes a run).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core_service.crypto import MasterKey  # noqa: E402 - after the path is set
from sandbox.bloomreach.config import (  # noqa: E402
    DEFAULT_KEY_ID,
    DEFAULT_PROJECT_TOKEN,
    DEFAULT_SECRET,
)
from sandbox.sitoo_api.config import SitooAccount  # noqa: E402

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SECRETS_IN_CONTAINER = "/run/secrets/sitoo-bloomreach"
UID = 10001  # the image's user (Containerfile)
START_TIMEOUT_S = 120.0
DELIVERY_TIMEOUT_S = 120.0
SALES, REFUNDS = 6, 2


class SmokeError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[str]
    log: Path
    started: float
    lines: list[str] = field(default_factory=list)
    ready_after: float | None = None

    def pump(self) -> None:
        assert self.popen.stdout is not None
        with self.log.open("a") as log:
            for line in self.popen.stdout:
                self.lines.append(line)
                log.write(line)
                log.flush()

    def wait_for(self, text: str, timeout: float = START_TIMEOUT_S) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                self.ready_after = self.ready_after or time.monotonic() - self.started
                return self.ready_after
            if self.popen.poll() is not None:
                raise SmokeError(f"{self.name} exited with {self.popen.returncode}")
            time.sleep(0.05)
        raise SmokeError(f"{self.name} did not print {text!r} within {timeout:.0f} s")

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            # `buildah run` answers SIGTERM by killing its child (SIGKILL), so the signal goes
            # to the service itself, the way a container runtime's stop reaches PID 1.
            leaves = _descendants(self.popen.pid)
            target = leaves[-1] if leaves else self.popen.pid
            os.kill(target, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def _descendants(pid: int) -> list[int]:
    """Every process below pid, parents before children (Linux /proc)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        parent = queue.pop(0)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                queue.append(child)
    return found


class Smoke:
    def __init__(self, image: str, work: Path, stack: ExitStack) -> None:
        self.image = image
        self.work = work
        self.stack = stack
        self.processes: list[Process] = []
        self.secrets = work / "secrets"
        self.env: dict[str, str] = {}

    # --- the image's side --------------------------------------------------------------
    def container(self, name: str) -> str:
        created = run(
            ["buildah", "from", "--pull=never", "--name", f"smoke-{name}-{os.getpid()}", self.image]
        )
        container = created.strip().splitlines()[-1]
        self.stack.callback(subprocess.run, ["buildah", "rm", container], capture_output=True)
        return container

    def buildah_run(self, container: str, args: list[str]) -> list[str]:
        command = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
        command += ["--volume", f"{self.secrets}:{SECRETS_IN_CONTAINER}:ro"]
        for key, value in self.env.items():
            command += ["--env", f"{key}={value}"]
        return [*command, container, "--", "sitoo-bloomreach", *args]

    def image_cli(self, name: str, args: list[str]) -> str:
        """One CLI command in the image, to completion; its stdout."""
        result = subprocess.run(
            self.buildah_run(self.container(name), args),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        (self.work / f"{name}.log").write_text(result.stderr)
        if result.returncode != 0:
            raise SmokeError(f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        """A process of the image's, or with `env`, one on the host (args is its command)."""
        host_command = env is not None
        command = args if host_command else self.buildah_run(self.container(name), args)
        log = self.work / f"{name}.log"
        log.touch()
        popen = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=env,
        )
        process = Process(name, popen, log, time.monotonic())
        threading.Thread(target=process.pump, daemon=True).start()
        self.processes.append(process)
        return process

    def write_secrets(self) -> None:
        self.secrets.mkdir(mode=0o700)
        values = {
            "master.key": MasterKey.generate(),
            "service.token": secrets.token_urlsafe(32),
            "admin.token": secrets.token_urlsafe(32),
            "bloomreach.secret": DEFAULT_SECRET,
            "sitoo.password": SitooAccount().password,
        }
        for name, value in values.items():
            path = self.secrets / name
            path.write_text(value + "\n")
            path.chmod(0o400)
        # Readable by the image's user only, as a Kubernetes Secret with fsGroup would be.
        for path in (self.secrets, *self.secrets.iterdir()):
            os.chown(path, UID, UID)
        self.secrets.chmod(0o500)


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise SmokeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"smoke_{os.getpid()}_{secrets.token_hex(3)}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc"]
    run([*psql, f'CREATE DATABASE "{name}"'])
    try:
        yield f"{PG}/{name}"
    finally:
        subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


def image_size(image: str) -> str:
    listed = json.loads(run(["buildah", "images", "--json", image]))
    size: str = listed[0]["size"]
    return size


def host_baseline(s: Smoke, venv_python: str) -> dict[str, float]:
    core_port = free_port()
    env = {
        **os.environ,
        **{k: v.replace(SECRETS_IN_CONTAINER, str(s.secrets)) for k, v in s.env.items()},
        "SITOO_BR_CORE_LISTEN": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_RELAY_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_EDGE_PORT": str(free_port()),
    }
    timings = {}
    for name, ready in (
        ("core", "core listening"),
        ("edge", "edge listening"),
        ("relay", "relay running"),
    ):
        process = s.start(f"host-{name}", [venv_python, "-m", "cli.main", name], env=env)
        timings[name] = process.wait_for(ready)
    for process in s.processes[-3:]:
        if process.stop() != 0:
            raise SmokeError(f"{process.name} exited with {process.popen.returncode}")
    return timings


def check_labels(image: str) -> dict[str, str]:
    """The OCI labels name this checkout's version and commit."""
    inspected = json.loads(run(["buildah", "inspect", "--type", "image", image]))
    labels: dict[str, str] = inspected["OCIv1"]["config"].get("Labels") or {}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    head = run(["git", "-C", str(ROOT), "rev-parse", "HEAD"]).strip()
    if labels.get("org.opencontainers.image.version") != project["version"]:
        raise SmokeError(f"image version label {labels} != {project['version']}")
    if not labels.get("org.opencontainers.image.revision", "").startswith(head):
        raise SmokeError(f"image revision label {labels} is not HEAD {head}")
    if inspected["OCIv1"]["config"].get("User") != "10001:10001":
        raise SmokeError("the image does not run as 10001:10001")
    return labels


# The smoke test is one ordered story (build, run, probe, tear down); its steps are told in
# sequence on purpose, so a reader follows what the image went through.
def smoke(s: Smoke) -> dict[str, Any]:  # noqa: C901, PLR0915
    image, work = s.image, s.work
    labels = check_labels(image)
    s.write_secrets()
    database_url = s.stack.enter_context(postgres_database())
    core_port, edge_port = free_port(), free_port()
    s.env = {
        "SITOO_BR_DATABASE_URL": database_url,
        "SITOO_BR_MASTER_KEY_FILE": f"{SECRETS_IN_CONTAINER}/master.key",
        "SITOO_BR_SERVICE_TOKEN_FILE": f"{SECRETS_IN_CONTAINER}/service.token",
        "SITOO_BR_ADMIN_TOKEN_FILE": f"{SECRETS_IN_CONTAINER}/admin.token",
        # The host network: loopback is this machine's, so plaintext gRPC is allowed.
        "SITOO_BR_CORE_LISTEN": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_RELAY_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_EDGE_HOST": "127.0.0.1",
        "SITOO_BR_EDGE_PORT": str(edge_port),
        "SITOO_BR_RELAY_POLL_INTERVAL_SECONDS": "0.2",
    }

    # The production image leaves the emulators out.
    probe = subprocess.run(
        s.buildah_run(s.container("probe"), []),
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode not in (0, 2):
        raise SmokeError(f"the image's entrypoint does not run:\n{probe.stderr}")
    python = subprocess.run(
        [
            *s.buildah_run(s.container("nosandbox"), [])[:-1],
            "python3",
            "-c",
            "import importlib.util as u; "
            "print(u.find_spec('sandbox'), u.find_spec('bench'), u.find_spec('harness'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if python.stdout.strip() != "None None None":
        raise SmokeError(f"the production image carries the emulators: {python.stdout}")

    started = time.monotonic()
    s.image_cli("migrate", ["migrate"])
    migrate_s = time.monotonic() - started

    br_port, sitoo_port = free_port(), free_port()
    venv_python = str(ROOT / ".venv" / "bin" / "python")
    bloomreach = s.start(
        "bloomreach-emulator",
        [venv_python, "-m", "sandbox.bloomreach", "--port", str(br_port)],
        env=dict(os.environ),
    )
    sitoo = s.start(
        "sitoo-emulator",
        [venv_python, "-m", "sandbox.sitoo_api", "--port", str(sitoo_port)],
        env=dict(os.environ),
    )
    bloomreach.wait_for("bloomreach emulator listening")
    sitoo.wait_for("sitoo emulator listening")

    # The baseline, in the same run: the same three processes from this checkout's .venv on
    # the host, with the same settings and database.
    host_startup = host_baseline(s, venv_python)

    # One at a time, so that each start-up time is that process's own (launch through
    # `buildah run` to its ready line), not three sharing two cores.
    core = s.start("core", ["core"])
    startup = {"core": core.wait_for("core listening")}
    edge = s.start("edge", ["edge"])
    startup["edge"] = edge.wait_for("edge listening")
    relay = s.start("relay", ["relay"])
    startup["relay"] = relay.wait_for("relay running")
    # The Kubernetes exec probe of the core (deploy/kubernetes/base/core.yaml), from the image.
    probe_command = s.buildah_run(s.container("probe-core"), [])[:-1]
    probe = subprocess.run(
        [*probe_command, "python3", "-m", "cli.probe", "core"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip() != "SERVING":
        raise SmokeError(
            f"python3 -m cli.probe core: {probe.returncode} {probe.stdout}{probe.stderr}"
        )

    edge_url = f"http://127.0.0.1:{edge_port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while http_status(f"{edge_url}/readyz") != HTTPStatus.OK:
        if time.monotonic() > deadline:
            raise SmokeError("the edge's /readyz never answered 200 (core or database)")
        time.sleep(0.2)
    ready_s = time.monotonic() - edge.started

    account = SitooAccount()
    issued = json.loads(
        s.image_cli(
            "integration",
            [
                "integration",
                "create",
                "smoke",
                "--company",
                "Smoke AB",
                "--market",
                "SE",
                "--bloomreach-url",
                f"http://127.0.0.1:{br_port}",
                "--project-token",
                DEFAULT_PROJECT_TOKEN,
                "--key-id",
                DEFAULT_KEY_ID,
                "--bloomreach-secret-file",
                f"{SECRETS_IN_CONTAINER}/bloomreach.secret",
                "--sitoo-url",
                f"http://127.0.0.1:{sitoo_port}",
                "--sitoo-account",
                str(account.account_id),
                "--sitoo-api-id",
                account.api_id,
                "--sitoo-password-file",
                f"{SECRETS_IN_CONTAINER}/sitoo.password",
                "--sitoo-site",
                "1",
                "--consent",
                "newsletter=newsletter,label=Newsletter",
                "--consent",
                "sms=sms,label=SMS offers",
                "--channel",
                "email=newsletter",
                "--channel",
                "sms=sms",
                "--json",
            ],
        )
    )
    created = issued["credentials"]

    # The driver reads its credentials from the environment, never from its command line.
    driver_env = {
        **os.environ,
        "SITOO_DRIVER_EDGE_URL": edge_url,
        "SITOO_DRIVER_INTEGRATION": "smoke",
        "SITOO_DRIVER_SPI_USER": created["spi_username"],
        "SITOO_DRIVER_SPI_PASSWORD": created["spi_password"],
        "SITOO_DRIVER_WEBHOOK_USER": created["webhook_username"],
        "SITOO_DRIVER_WEBHOOK_PASSWORD": created["webhook_password"],
        "SITOO_DRIVER_SITOO_URL": f"http://127.0.0.1:{sitoo_port}",
        "SITOO_DRIVER_SITOO_API_ID": account.api_id,
        "SITOO_DRIVER_SITOO_API_PASSWORD": account.password,
    }
    day = subprocess.run(
        [
            venv_python,
            "-m",
            "cli.main",
            "sandbox",
            "driver",
            "store-day",
            "--customers",
            "3",
            "--sales",
            str(SALES),
            "--refunds",
            str(REFUNDS),
            "--anonymous",
            "1",
            "--summary",
        ],
        cwd=ROOT,
        env=driver_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (work / "store-day.log").write_text(day.stdout + day.stderr)
    if day.returncode != 0:
        raise SmokeError(f"the store day failed ({day.returncode}):\n{day.stdout}\n{day.stderr}")

    events = f"http://127.0.0.1:{br_port}/_sandbox/projects/{DEFAULT_PROJECT_TOKEN}/events"
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    purchases: list[Any] = []
    while time.monotonic() < deadline:
        purchases = get_json(f"{events}?event_type=purchase")["events"]
        if len(purchases) >= SALES + REFUNDS:
            break
        time.sleep(0.5)
    if len(purchases) != SALES + REFUNDS:
        raise SmokeError(
            f"Bloomreach holds {len(purchases)} purchase events, expected {SALES + REFUNDS}"
        )
    refunds = [e for e in purchases if e["properties"].get("purchase_status") == "refund"]
    if len(refunds) != REFUNDS:
        raise SmokeError(f"Bloomreach holds {len(refunds)} refunds, expected {REFUNDS}")

    # Graceful stop: each service exits 0 on SIGTERM, as Kubernetes stops a pod.
    stopped = {}
    for process in (edge, relay, core):
        began = time.monotonic()
        code = process.stop()
        if code != 0:
            raise SmokeError(f"{process.name} exited with {code} on SIGTERM")
        stopped[process.name] = round(time.monotonic() - began, 2)
    return {
        "image": image,
        "image_size": image_size(image),
        "revision": labels["org.opencontainers.image.revision"],
        "migrate_seconds": round(migrate_s, 2),
        "startup_seconds": {k: round(v, 2) for k, v in startup.items()},
        "host_startup_seconds": {k: round(v, 2) for k, v in host_startup.items()},
        "edge_ready_seconds": round(ready_s, 2),
        "stop_seconds": stopped,
        "purchases_in_bloomreach": len(purchases),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--results", type=Path, help="write the measurements here (JSON)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smoke-image-"))
    try:
        with ExitStack() as stack:
            s = Smoke(args.image, work, stack)
            try:
                result = smoke(s)
            finally:
                # Before the containers and the database go (the stack unwinds after this).
                for process in reversed(s.processes):
                    process.stop()
    except (SmokeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
        print(f"SMOKE TEST FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        for log in sorted(work.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-40:]
            print(f"----- {log.name} (last {len(tail)} lines)", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.results is not None:
        args.results.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
