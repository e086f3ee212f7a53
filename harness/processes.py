"""Real processes for end-to-end tests: start, wait for the ready line, stop."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A port free now, for a server that cannot bind port 0 and say which port it got (the
    relay's metrics listener), or whose port others must know before it starts. Racy: another
    process may take it before the server binds it. Prefer port 0 and ``announced_port``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_ANNOUNCED_PORT = re.compile(r":(\d+)\s*$")


def announced_port(line: str) -> int:
    """The port in a ready line such as ``core listening on 127.0.0.1:41234`` (every server
    of ours, and both emulators, print the address they bound, so tests can let them bind 0)."""
    found = _ANNOUNCED_PORT.search(line)
    if found is None:
        raise ValueError(f"no port in {line!r}")
    return int(found.group(1))


@dataclass
class Service:
    """A child process whose stdout lines are collected as they arrive."""

    name: str
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)
    stderr_path: Path | None = None
    ready_line: str = ""

    @property
    def port(self) -> int:
        """The port the service announced in its ready line."""
        return announced_port(self.ready_line)

    def wait_for_line(self, text: str, timeout: float = START_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode} before printing "
                        f"{text!r}:\n{self.stderr_tail()}"
                    ) from None
                continue
            if text in line:
                return line
        raise TimeoutError(f"{self.name} did not print {text!r}:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 30) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _pump(service: Service) -> None:
    assert service.process.stdout is not None
    for line in service.process.stdout:
        service.output.append(line)
        service.lines.put(line)


def spawn(
    name: str, args: list[str], env: Mapping[str, str], log_dir: Path, ready: str | None
) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{name}.stderr.log"
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=stderr_path.open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
    )
    service = Service(name, process, stderr_path=stderr_path)
    threading.Thread(target=_pump, args=(service,), daemon=True).start()
    if ready is not None:
        try:
            service.ready_line = service.wait_for_line(ready)
        except BaseException:
            service.kill()
            raise
    return service


@contextmanager
def running(
    name: str, args: list[str], env: Mapping[str, str], log_dir: Path, ready: str | None
) -> Iterator[Service]:
    service = spawn(name, args, env, log_dir, ready)
    try:
        yield service
    finally:
        service.terminate()


def cli(
    args: list[str], env: Mapping[str, str], input_text: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `sitoo-bloomreach ARGS` as a user would, to completion."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
