"""Shared fixtures: fresh databases (SQLite and PostgreSQL), secrets, free ports."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_service.crypto import MasterKey
from harness.databases import postgres_database, sqlite_url
from harness.processes import free_port

BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind; every test that takes it runs on both."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the services and the CLI: explicit secrets and free ports."""
    return {
        "SITOO_BR_DATA_DIR": str(tmp_path / "data"),
        "SITOO_BR_MASTER_KEY": MasterKey.generate(),
        "SITOO_BR_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        # Port 0: the core binds what the OS gives and says so; Stack points the rest at it.
        "SITOO_BR_CORE_LISTEN": "127.0.0.1:0",
        # Chosen up front: the core probes the edge's URL when it validates an integration.
        "SITOO_BR_EDGE_PORT": str(free_port()),
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_LOG_LEVEL": "INFO",
        "SITOO_BR_SHUTDOWN_GRACE_SECONDS": "15",
    }
