"""The driver's Sitoo client against the real emulator with faults and eventual consistency."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.driver.scenario import SitooOrdersClient
from sandbox.faults import FAULT_STATE, Fault
from sandbox.sitoo_api import SitooApiConfig, create_app
from sandbox.sitoo_api.orders import OrderLine, sale_order

ACCOUNT = 1500
API_ID, API_PASSWORD = "1500-1", "sandbox-password"


class ScriptedRandom(random.Random):
    """Fault draws in a given order, then draws that never inject a fault."""

    def __init__(self, draws: Iterable[float]) -> None:
        super().__init__(0)
        self._draws = list(draws)

    def random(self) -> float:
        return self._draws.pop(0) if self._draws else 0.99


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[web.Application, str]]:
    # As in tests/e2e/test_orders_faults.py::test_vendor_faults_then_dead_then_replay.
    config = SitooApiConfig(
        not_found_reads=1, faults={"get_order": Fault(error_rate=0.3, error_status=503)}
    )
    app = create_app(config)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield app, f"http://{host}:{port}"
    await runner.cleanup()


async def stats(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sandbox/stats") as r:
        body: dict[str, Any] = await r.json()
    return body


async def test_get_order_outlasts_a_5xx_run_before_the_not_found_read(
    emulator: tuple[web.Application, str],
) -> None:
    """The refund's read of its original, right after adding it: five injected 503s (0.3**5,
    ~1 read in 400 at a 30% rate), then the order's one not-found read. Six attempts ended
    exactly there: ``get order 1 failed: 404 … Order 1 not found``."""
    app, url = emulator
    app[FAULT_STATE].rng = ScriptedRandom([0.0] * 5)  # 0.0 < error_rate: inject
    sitoo = SitooOrdersClient(url, ACCOUNT, API_ID, API_PASSWORD)
    try:
        orderid = await sitoo.add_order(1, sale_order([OrderLine("SKU-1")]))
        order = await sitoo.get_order(1, orderid)
    finally:
        await sitoo.close()
    assert order["orderid"] == orderid
    counted = await stats(url)
    assert counted["faults"]["injected_errors"] == 5
    assert counted["requests"]["get_order"] == 7
    assert counted["responses"]["404"] == 1
