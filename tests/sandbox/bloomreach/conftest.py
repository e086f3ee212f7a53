"""Fixtures: the Bloomreach emulator on a real 127.0.0.1 socket and a small HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.bloomreach.testing import BR

Starter = Callable[..., Awaitable[BR]]


@pytest.fixture
async def start() -> AsyncIterator[Starter]:
    """``await start(config=None, **config_kwargs)`` -> a client of a freshly started emulator."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def _start(config: BloomreachConfig | None = None, **kwargs: Any) -> BR:
        if config is None:
            kwargs.setdefault("seed", 1)
            config = BloomreachConfig.sandbox(**kwargs)
        runner = web.AppRunner(create_app(config))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        session = aiohttp.ClientSession()
        sessions.append(session)
        return BR(session, f"http://127.0.0.1:{port}", next(iter(config.projects)))

    yield _start
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def br(start: Starter) -> BR:
    return await start()
