"""The import rules of docs/architecture.md ("Import rules"), checked on the source.

Every ``import`` and ``from … import`` in a package's modules (TYPE_CHECKING blocks and
function bodies included) is compared with what that package may not import. A rule here is
one the code keeps today; tighten it as the code moves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = ("sqlalchemy", "aiohttp", "grpc", "httpx", "asyncpg", "aiosqlite")

# What only tests and benchmarks may import: the tests themselves, the process harness they
# share, and the benchmarks.
TEST_ONLY = ("tests", "harness", "bench")

# package (dotted prefix) -> modules it must never import (dotted prefixes)
RULES: dict[str, tuple[str, ...]] = {
    # The two services talk gRPC only; neither imports the other.
    "edge": ("core_service", "console", "cli", "sandbox", *TEST_ONLY),
    "core_service": ("edge", "console", "cli", "sandbox", *TEST_ONLY),
    # The console knows the core only as its AdminService (over runtime's channel).
    "console": ("core_service", "edge", "cli", "sandbox", *TEST_ONLY),
    # Shared by every process: settings, logs, the channel helper.
    "runtime": ("edge", "core_service", "console", "cli", "sandbox", *TEST_ONLY),
    # The emulators and the driver stand in for vendors: they state Sitoo's contract on their
    # own (sandbox/driver/sitoo_contract.py), so a wrong route in the edge cannot hide.
    "sandbox": ("edge", "core_service", "console", "cli", *TEST_ONLY),
    "cli": TEST_ONLY,
    "migrations": ("edge", "console", "cli", "sandbox", *TEST_ONLY),
    # The process harness serves the tests and the benchmarks; neither serves it.
    "harness": ("tests", "bench"),
    "bench": ("tests",),
    # Inside the core: rules without I/O, adapters that never call upward, services that
    # know nothing of gRPC.
    "core_service.domain": (
        "core_service.adapters",
        "core_service.services",
        "core_service.grpc_api",
        "core_service.bootstrap",
        *IO_LIBRARIES,
    ),
    "core_service.adapters": ("core_service.services", "core_service.grpc_api"),
    # Services and the gRPC layer decide on domain errors (StorageError and its kinds), which
    # the repositories translate from SQLAlchemy's (core_service/adapters/db/errors.py).
    "core_service.services": (
        "core_service.grpc_api",
        "core_service.bootstrap",
        "grpc",
        "sqlalchemy",
        "core_service.adapters.db.models",
    ),
    # Read models (domain/outbox.py, domain/integration.py) reach the gRPC layer, never rows.
    "core_service.grpc_api": (
        "core_service.bootstrap",
        "sqlalchemy",
        "core_service.adapters.db.models",
    ),
}


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(package: str, root: Path = ROOT) -> list[str]:
    """``path:line imports module`` for every import ``package`` may not make."""
    forbidden = RULES.get(package, ())
    found = []
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        for line, module in imported_modules(path.read_text()):
            if any(_within(module, f) for f in forbidden):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_keeps_its_import_rules(package: str) -> None:
    assert (ROOT / package.replace(".", "/")).is_dir(), package
    assert violations(package) == []


def test_a_forbidden_import_is_found_wherever_it_hides(tmp_path: Path) -> None:
    domain = tmp_path / "core_service" / "domain"
    domain.mkdir(parents=True)
    (domain / "rules.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlalchemy.orm import Session\n"
        "def later() -> None:\n"
        "    import core_service.adapters.db.engine\n"
        "from core_service.domain.errors import InvalidArgument\n"
    )
    assert violations("core_service.domain", tmp_path) == [
        "core_service/domain/rules.py:4 imports sqlalchemy.orm",
        "core_service/domain/rules.py:6 imports core_service.adapters.db.engine",
    ]


def test_the_benchmarks_use_the_harness_not_the_tests(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "suite.py").write_text(
        "from harness.processes import running\nfrom tests.support.eventually import eventually\n"
    )
    assert violations("bench", tmp_path) == ["bench/suite.py:2 imports tests.support.eventually"]


def test_sandbox_imports_nothing_of_the_edge(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "driver.py").write_text("import json\nfrom edge.spi_contract import EVENTS\n")
    assert violations("sandbox", tmp_path) == ["sandbox/driver.py:2 imports edge.spi_contract"]


def test_services_reach_the_database_only_through_ports() -> None:
    found = {
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "core_service" / "services").rglob("*.py"))
        for _, module in imported_modules(path.read_text())
        if _within(module, "core_service.adapters.db")
    }
    # Every service reaches storage through services/ports.py (issue 13).
    assert found == set()
    grpc_api = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "core_service" / "grpc_api").rglob("*.py"))
        for _, module in imported_modules(path.read_text())
        if _within(module, "core_service.adapters.db")
    ]
    assert grpc_api == []


# Services still building vendor clients from the HTTP pools themselves: the relay's tenant
# cache (relay_tenants.py builds each tenant's Bloomreach and Sitoo clients) and the relay,
# which hands it the pools. Every other service reaches Bloomreach and Sitoo through
# services/upstream_ports.py and catches the failures of domain/{bloomreach,sitoo}_api.py.
STILL_ON_CONCRETE_HTTP_CLIENTS = {
    "core_service/services/relay.py",
    "core_service/services/relay_tenants.py",
}


def test_services_reach_the_vendors_only_through_ports() -> None:
    found = {
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "core_service" / "services").rglob("*.py"))
        for _, module in imported_modules(path.read_text())
        if _within(module, "core_service.adapters")
        and not _within(module, "core_service.adapters.db")
    }
    # Equal, not a subset: a service moved onto the ports must leave the list too.
    assert found == STILL_ON_CONCRETE_HTTP_CLIENTS
