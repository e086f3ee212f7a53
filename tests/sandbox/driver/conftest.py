"""Fixtures for the driver tests: real HTTP receivers on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.driver.receiver import Handler, Receiver, Reply, Script

ReceiverFactory = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver() -> AsyncIterator[ReceiverFactory]:
    receivers: list[Receiver] = []

    async def factory(
        script: Script | None = None, default: int | Reply = 200, handler: Handler | None = None
    ) -> Receiver:
        receiver = Receiver(script=list(script or []), default=default, handler=handler)
        receivers.append(receiver)
        return await receiver.start()

    yield factory
    for receiver in receivers:
        await receiver.stop()


@pytest.fixture
async def bloomreach() -> AsyncIterator[str]:
    """The Bloomreach emulator on 127.0.0.1:0 (sandbox defaults); its base URL."""
    runner = web.AppRunner(create_app(BloomreachConfig.sandbox(seed=1)), shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()
