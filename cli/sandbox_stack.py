"""`run`'s sandbox: the two emulators as child processes and a ready integration on them, so
the product can be tried end to end on a machine with no Sitoo or Bloomreach account."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from core_service.domain.errors import NotFound
from core_service.domain.integration import ConsentType
from core_service.services.integrations import (
    IntegrationService,
    IntegrationSettings,
    IssuedCredentials,
)
from runtime.settings import Settings
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET
from sandbox.driver.local_run import DRIVER_DEFAULTS_FILE
from sandbox.sitoo_api.config import SitooAccount

SANDBOX_INTEGRATION = "sandbox"
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SandboxEndpoints:
    bloomreach_url: str
    sitoo_url: str


async def _start(module: str, args: list[str], ready: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while line := (await process.stdout.readline()).decode():
                if ready in line:
                    return process
    except TimeoutError:
        pass
    process.kill()
    raise RuntimeError(f"{module} did not start (is its port free? see its output above)")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()


@contextlib.asynccontextmanager
async def emulators(settings: Settings) -> AsyncIterator[SandboxEndpoints]:
    """Both emulators, with state kept under the data directory across runs."""
    state = settings.data_dir / "sandbox"
    state.mkdir(parents=True, exist_ok=True)
    br_port, sitoo_port = settings.sandbox_bloomreach_port, settings.sandbox_sitoo_port
    bloomreach = await _start(
        "sandbox.bloomreach",
        ["--port", str(br_port), "--state-file", str(state / "bloomreach.json")],
        "bloomreach emulator listening",
    )
    try:
        sitoo = await _start(
            "sandbox.sitoo_api",
            ["--port", str(sitoo_port), "--state-file", str(state / "sitoo.json")],
            "sitoo emulator listening",
        )
        try:
            yield SandboxEndpoints(f"http://127.0.0.1:{br_port}", f"http://127.0.0.1:{sitoo_port}")
        finally:
            await _stop(sitoo)
    finally:
        await _stop(bloomreach)


def sandbox_settings(endpoints: SandboxEndpoints) -> IntegrationSettings:
    account = SitooAccount()
    return IntegrationSettings(
        display_name="Sandbox store",
        company="Sandbox AB",
        market="SE",
        bloomreach_api_base_url=endpoints.bloomreach_url,
        bloomreach_project_token=DEFAULT_PROJECT_TOKEN,
        bloomreach_api_key_id=DEFAULT_KEY_ID,
        bloomreach_api_secret=DEFAULT_SECRET,
        consent_types=[
            ConsentType("newsletter", "newsletter", "Newsletter", "News and offers by e-mail"),
            ConsentType("sms", "sms", "SMS offers", "Offers by text message"),
        ],
        channel_categories={"email": "newsletter", "sms": "sms"},
        sitoo_account_id=account.account_id,
        sitoo_api_base_url=endpoints.sitoo_url,
        sitoo_api_id=account.api_id,
        sitoo_api_password=account.password,
        sitoo_site_id=1,
    )


async def ensure_sandbox_integration(
    integrations: IntegrationService, endpoints: SandboxEndpoints
) -> IssuedCredentials:
    """Create or refresh the sandbox integration; its credentials are issued anew each run
    (they are shown once, and this is the one place they can be shown)."""
    settings = sandbox_settings(endpoints)
    try:
        await integrations.get(SANDBOX_INTEGRATION)
    except NotFound:
        _, credentials = await integrations.create(SANDBOX_INTEGRATION, settings)
        return credentials
    await integrations.update(SANDBOX_INTEGRATION, settings)
    return await integrations.rotate_credentials(SANDBOX_INTEGRATION, spi=True, webhook=True)


def describe(
    edge_url: str,
    endpoints: SandboxEndpoints,
    credentials: IssuedCredentials,
    driver_file: Path,
) -> str:
    """What to point at the sandbox. The passwords stay in the 0600 file (terminals and CI
    logs keep what a process prints); the driver reads them from there."""
    base = f"{edge_url}/sitoo/{SANDBOX_INTEGRATION}"
    where = f"password in {driver_file.resolve()}"
    return "\n".join(
        [
            f"sandbox integration {SANDBOX_INTEGRATION!r} is ready:",
            f"  CRM SPI base URL:    {base}",
            f"    user {credentials.spi_username}  ({where}: spi_password)",
            f"  Events SPI webhook:  {base}/events",
            f"    user {credentials.webhook_username}  ({where}: webhook_password)",
            f"  Bloomreach emulator: {endpoints.bloomreach_url}  (inspect: /_sandbox/stats)",
            f"  Sitoo emulator:      {endpoints.sitoo_url}  (inspect: /_sandbox/stats)",
            "  try a POS search: .venv/bin/sitoo-bloomreach sandbox driver search "
            "--key-type email --key anna@example.com",
        ]
    )


def write_driver_defaults(
    data_dir: Path, edge_url: str, endpoints: SandboxEndpoints, credentials: IssuedCredentials
) -> Path:
    """What `sandbox driver store-day` needs to play against this run, with no flags: kept
    in the data directory (0600, beside the master key), so no password is typed or logged.
    Rewritten each run, since the credentials are issued anew."""
    account = SitooAccount()
    defaults = {
        "edge_url": edge_url,
        "integration": SANDBOX_INTEGRATION,
        "spi_user": credentials.spi_username,
        "spi_password": credentials.spi_password,
        "webhook_user": credentials.webhook_username,
        "webhook_password": credentials.webhook_password,
        "sitoo_url": endpoints.sitoo_url,
        "sitoo_account": account.account_id,
        "sitoo_api_id": account.api_id,
        "sitoo_api_password": account.password,
        # The emulator's Tracking API gives the members' offers (`store-day --loyalty-members`).
        "bloomreach_url": endpoints.bloomreach_url,
    }
    path = data_dir / DRIVER_DEFAULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(defaults, handle, indent=2)
    partial.replace(path)
    return path
