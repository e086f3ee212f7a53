"""The middleware as real processes: migrate, core, edge, and the CLI against them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.processes import Service, cli, running


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    core: Service | None = None
    edge: Service | None = None
    exits: ExitStack = field(default_factory=ExitStack)

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.env['SITOO_BR_EDGE_PORT']}"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(list(args), self.env)

    def cli_json(self, *args: str) -> dict[str, Any]:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def start_core(self) -> Service:
        self.core = self.exits.enter_context(
            running("core", ["-m", "cli.main", "core"], self.env, self.log_dir, "core listening")
        )
        host, port = self.env["SITOO_BR_CORE_LISTEN"].rsplit(":", 1)
        if port == "0":
            # Bound by the OS; a restart (kill -9 tests) comes back on the same port, where
            # the edge and the CLI already look for it.
            self.env["SITOO_BR_CORE_LISTEN"] = f"{host}:{self.core.port}"
            self.env["SITOO_BR_CORE_TARGET"] = f"127.0.0.1:{self.core.port}"
        return self.core

    def start_edge(self) -> Service:
        self.edge = self.exits.enter_context(
            running("edge", ["-m", "cli.main", "edge"], self.env, self.log_dir, "edge listening")
        )
        if self.env.get("SITOO_BR_EDGE_PORT") == "0":
            self.env["SITOO_BR_EDGE_PORT"] = str(self.edge.port)
        return self.edge

    def create_integration(self, name: str, *extra: str) -> dict[str, Any]:
        return self.cli_json("integration", "create", name, *extra)


@contextmanager
def stack(database_url: str, env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    env = {**env, "SITOO_BR_DATABASE_URL": database_url}
    migrated = cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    result = Stack(env, log_dir)
    with result.exits:
        yield result
