"""Fixtures: the Sitoo emulator on a real 127.0.0.1 socket and a small HTTP client."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from sandbox.sitoo_api import SitooAccount, SitooApiConfig, create_app

ACCOUNT = 1500
API_ID = "1500-1"
PASSWORD = "s3cret"


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class SitooClient:
    """Talks to one emulator; ``auth`` defaults to the configured API user."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.auth: tuple[str, str] | None = (API_ID, PASSWORD)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        params: dict[str, str] | None = None,
        auth: tuple[str, str] | str | None = "default",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``auth``: ``(api_id, password)``, ``None`` for no credentials, default: the API user."""
        use_auth = self.auth if auth == "default" else auth
        all_headers = dict(headers or {})
        if isinstance(use_auth, tuple):
            all_headers["Authorization"] = aiohttp.encode_basic_auth(*use_auth)
        async with self.session.request(
            method,
            self.base + path,
            json=json,
            data=data,
            params=params,
            headers=all_headers,
        ) as response:
            text = await response.text()
            body = await response.json(content_type=None) if text else None
            return Reply(response.status, body, response.headers)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Reply:
        return await self.request("PUT", path, **kw)

    # --- shortcuts -------------------------------------------------------------------

    async def add(self, body: dict[str, Any], site: int = 1) -> int:
        reply = await self.post(f"/v2/accounts/{ACCOUNT}/sites/{site}/orders.json", json=body)
        assert reply.status == 200, reply.body
        assert isinstance(reply.body, int)
        return reply.body

    async def order(self, orderid: int, site: int = 1) -> dict[str, Any]:
        reply = await self.get(f"/v2/accounts/{ACCOUNT}/sites/{site}/orders/{orderid}.json")
        assert reply.status == 200, reply.body
        return dict(reply.body)

    async def list(self, **params: str) -> Reply:
        return await self.get(f"/v2/accounts/{ACCOUNT}/orders.json", params=params)

    async def ids(self, **params: str) -> builtins.list[int]:
        reply = await self.list(**params)
        assert reply.status == 200, reply.body
        return [item["orderid"] for item in reply.body["items"]]

    async def seed(self, body: dict[str, Any]) -> builtins.list[int]:
        reply = await self.post(f"/_sandbox/accounts/{ACCOUNT}/orders", json=body)
        assert reply.status == 200, reply.body
        return list(reply.body["orderids"])


def default_config(**overrides: Any) -> SitooApiConfig:
    account = SitooAccount(account_id=ACCOUNT, api_id=API_ID, password=PASSWORD, site_ids=(1, 2))
    return SitooApiConfig(accounts=(account,), **overrides)


StartEmulator = Callable[..., Awaitable[SitooClient]]


@pytest.fixture
async def start_emulator() -> AsyncIterator[StartEmulator]:
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(config: SitooApiConfig | None = None) -> SitooClient:
        server = TestServer(create_app(config or default_config()), host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return SitooClient(session, str(server.make_url("")).rstrip("/"))

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


@pytest.fixture
async def api(start_emulator: StartEmulator) -> SitooClient:
    return await start_emulator()


@pytest.fixture
def make_config() -> Callable[..., SitooApiConfig]:
    """``make_config(**SitooApiConfig fields)`` with account 1500 / ``1500-1`` / sites 1, 2."""
    return default_config
