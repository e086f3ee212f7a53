"""The order path as real processes: both emulators, migrate, core, edge and relays."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from harness.processes import Service, running, spawn
from harness.stack import Stack, stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET
from sandbox.driver.pos_client import PosClient
from sandbox.driver.scenario import SitooOrdersClient
from sandbox.driver.webhooks import EventSender, RetrySchedule

ACCOUNT = 1500
SITOO_API_ID, SITOO_PASSWORD = "1500-1", "sandbox-password"
TOKEN = DEFAULT_PROJECT_TOKEN
RELOAD_REQUESTED = "relay settings reload requested"
# Test-speed relay: retries in fractions of a second. The budget (31 attempts, ~9 s) outlasts
# the tests' random fault rates (e.g. 40% Bloomreach 429s with 30% Sitoo 503s fail an attempt
# ~60% of the time: 8 attempts would let one message in ~60 die by chance). Permanent failures
# (wrong credentials) are dead at once whatever the budget.
RELAY_ENV = {
    "SITOO_BR_RELAY_RETRY_SCHEDULE": json.dumps([0.0] + [0.3] * 30),
    "SITOO_BR_RELAY_POLL_INTERVAL_SECONDS": "0.1",
    "SITOO_BR_RELAY_LEASE_SECONDS": "3",
    "SITOO_BR_RELAY_METRICS_LISTEN": "",
    "SITOO_BR_RELAY_HTTP_TIMEOUT_SECONDS": "3",
    "SITOO_BR_SHUTDOWN_GRACE_SECONDS": "5",
    "SITOO_BR_RELAY_CONFIG_REFRESH_SECONDS": "0.5",
}


@dataclass
class OrderStack:
    s: Stack
    bloomreach_url: str
    sitoo_url: str
    database_url: str
    webhook: tuple[str, str] = ("", "")
    spi: tuple[str, str] = ("", "")
    relays: list[Service] = field(default_factory=list)
    _relay_no: int = 0

    def start_relay(self) -> Service:
        self._relay_no += 1
        relay = spawn(
            f"relay{self._relay_no}",
            ["-m", "cli.main", "relay"],
            self.s.env,
            self.s.log_dir,
            "relay running",
        )
        self.relays.append(relay)
        return relay

    def reload_relay_settings(self) -> None:
        """Make every relay re-read integration settings before its next message (SIGHUP),
        instead of waiting out its settings cache."""
        for relay in self.relays:
            if relay.process.poll() is None:
                relay.process.send_signal(signal.SIGHUP)
                relay.wait_for_line(RELOAD_REQUESTED)

    def sender(self, **kwargs: Any) -> EventSender:
        kwargs.setdefault("schedule", RetrySchedule.of(*([0.3] * 10 + [1.0] * 30)))
        return EventSender.for_integration(
            self.s.edge_url, "acme", username=self.webhook[0], password=self.webhook[1], **kwargs
        )

    def pos(self) -> PosClient:
        """A POS of the store, calling the CRM SPI on the edge."""
        return PosClient(self.s.edge_url, "acme", *self.spi)

    def sitoo(self) -> SitooOrdersClient:
        return SitooOrdersClient(self.sitoo_url, ACCOUNT, SITOO_API_ID, SITOO_PASSWORD)

    async def sql(self, query: str) -> list[Any]:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(text(query))).all())
        finally:
            await engine.dispose()

    async def sql_exec(self, *statements: str) -> None:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def open_messages(self) -> int:
        rows = await self.sql(
            "SELECT count(*) FROM outbox_messages WHERE state IN ('pending', 'in_flight')"
        )
        return int(rows[0][0])

    async def settle(self, limit_s: float = 120.0) -> None:
        """Until no message is open (a bound against hanging, not a performance check)."""
        for _ in range(int(limit_s / 0.2)):
            if await self.open_messages() == 0:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"outbox did not settle; states: {await self.states()}")

    async def states(self) -> dict[str, int]:
        rows = await self.sql("SELECT state, count(*) FROM outbox_messages GROUP BY state")
        return {state: int(count) for state, count in rows}

    async def emulator(self, base: str, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, base + path, json=body) as response,
        ):
            assert response.ok, await response.text()
            return await response.json(content_type=None)

    async def bloomreach_events(self, event_type: str) -> list[dict[str, Any]]:
        body = await self.emulator(
            self.bloomreach_url, "GET", f"/_sandbox/projects/{TOKEN}/events?event_type={event_type}"
        )
        events: list[dict[str, Any]] = body["events"]
        return events

    async def bloomreach_stats(self) -> dict[str, Any]:
        body = await self.emulator(self.bloomreach_url, "GET", "/_sandbox/stats")
        stats: dict[str, Any] = body["projects"].get(TOKEN, {})
        return stats

    async def faults(self, base: str, faults: dict[str, Any]) -> None:
        """Replace the emulator's fault table with ``{endpoint: fault}``."""
        await self.emulator(base, "PUT", "/_sandbox/faults", {"faults": faults})


@contextmanager
def order_stack(
    database_url: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    relays: int = 1,
    sitoo_args: tuple[str, ...] = (),
    bloomreach_args: tuple[str, ...] = (),
) -> Iterator[OrderStack]:
    with ExitStack() as exits:
        bloomreach = exits.enter_context(
            running(
                "bloomreach",
                ["-m", "sandbox.bloomreach", "--port", "0", *bloomreach_args],
                {},
                log_dir,
                "listening",
            )
        )
        sitoo = exits.enter_context(
            running(
                "sitoo",
                ["-m", "sandbox.sitoo_api", "--port", "0", *sitoo_args],
                {},
                log_dir,
                "listening",
            )
        )
        s = exits.enter_context(stack(database_url, {**RELAY_ENV, **env}, log_dir))
        s.start_core()
        s.start_edge()
        result = OrderStack(
            s, f"http://127.0.0.1:{bloomreach.port}", f"http://127.0.0.1:{sitoo.port}", database_url
        )
        created = s.create_integration(
            "acme",
            "--company", "Acme AB", "--market", "se",
            "--bloomreach-url", result.bloomreach_url,
            "--project-token", TOKEN,
            "--key-id", DEFAULT_KEY_ID,
            "--bloomreach-secret", DEFAULT_SECRET,
            "--sitoo-account", str(ACCOUNT),
            "--sitoo-url", result.sitoo_url,
            "--sitoo-api-id", SITOO_API_ID,
            "--sitoo-password", SITOO_PASSWORD,
            "--consent", "newsletter=newsletter,label=Newsletter",
            "--consent", "sms=sms,label=SMS offers",
            "--channel", "email=newsletter",
            "--channel", "sms=sms",
        )  # fmt: skip
        credentials = created["credentials"]
        result.webhook = (credentials["webhook_username"], credentials["webhook_password"])
        result.spi = (credentials["spi_username"], credentials["spi_password"])
        try:
            for _ in range(relays):
                result.start_relay()
            yield result
        finally:
            for relay in result.relays:
                relay.terminate()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
