"""The customer path as real processes: the Bloomreach emulator, migrate, core, edge, and
one integration pointing at the emulator (used by e2e tests and the benchmark)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core_service.crypto import MasterKey
from harness.databases import sqlite_url
from harness.processes import Service, free_port, running
from harness.stack import Stack, stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET

INTEGRATION = "shop"
BR_READY = "bloomreach emulator listening on http://"


@dataclass
class CustomerStack:
    stack: Stack
    emulator: Service
    bloomreach_url: str
    username: str
    password: str
    # The Events SPI credential of the same integration.
    webhook: tuple[str, str] = ("", "")

    @property
    def edge_url(self) -> str:
        return self.stack.edge_url


def base_env(data_dir: Path) -> dict[str, str]:
    return {
        "SITOO_BR_DATA_DIR": str(data_dir),
        "SITOO_BR_MASTER_KEY": MasterKey.generate(),
        "SITOO_BR_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        # Port 0 for both: they announce what they bound and Stack records it.
        "SITOO_BR_CORE_LISTEN": "127.0.0.1:0",
        "SITOO_BR_EDGE_PORT": "0",
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_LOG_LEVEL": "WARNING",
    }


def integration_args(bloomreach_url: str, *extra: str) -> list[str]:
    return [
        "--market",
        "SE",
        "--bloomreach-url",
        bloomreach_url,
        "--project-token",
        DEFAULT_PROJECT_TOKEN,
        "--key-id",
        DEFAULT_KEY_ID,
        "--bloomreach-secret",
        DEFAULT_SECRET,
        "--consent",
        "consent_newsletter=newsletter,default=yes,label=Newsletter",
        "--consent",
        "consent_sms=sms,default=no,label=SMS offers",
        "--channel",
        "email=newsletter",
        "--channel",
        "sms=sms",
        *extra,
    ]


@contextmanager
def customer_stack(
    work_dir: Path,
    env: dict[str, str] | None = None,
    *integration_extra: str,
    database_url: str | None = None,
) -> Iterator[CustomerStack]:
    full_env = {**base_env(work_dir / "data"), **(env or {})}
    with (
        running(
            "bloomreach",
            ["-m", "sandbox.bloomreach", "--port", "0"],
            {},
            work_dir / "logs",
            BR_READY,
        ) as emulator,
        stack(database_url or sqlite_url(work_dir), full_env, work_dir / "logs") as s,
    ):
        s.start_core()
        s.start_edge()
        url = f"http://127.0.0.1:{emulator.port}"
        created = s.create_integration(INTEGRATION, *integration_args(url, *integration_extra))
        credentials = created["credentials"]
        yield CustomerStack(
            s,
            emulator,
            url,
            credentials["spi_username"],
            credentials["spi_password"],
            (credentials["webhook_username"], credentials["webhook_password"]),
        )
