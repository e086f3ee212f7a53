"""A small HTTP client for the emulator, for tests and end-to-end scripts.

``BR`` speaks the real API (private Basic auth by default) and the ``/_sandbox/`` endpoints.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp

from sandbox.bloomreach.config import (
    DEFAULT_KEY_ID,
    DEFAULT_PROJECT_TOKEN,
    DEFAULT_PUBLIC_TOKEN,
    DEFAULT_SECRET,
)

TOKEN = DEFAULT_PROJECT_TOKEN
PRIVATE = aiohttp.encode_basic_auth(DEFAULT_KEY_ID, DEFAULT_SECRET)
PUBLIC = f"Token {DEFAULT_PUBLIC_TOKEN}"


def basic(key_id: str, secret: str) -> str:
    return aiohttp.encode_basic_auth(key_id, secret)


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class BR:
    """Talks to one emulator; requests carry the private default key unless told otherwise."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str = TOKEN) -> None:
        self.session = session
        self.base = base
        self.token = token

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: str | None = PRIVATE,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        hdrs = {"Content-Type": "application/json"}
        if auth is not None:
            hdrs["Authorization"] = auth
        hdrs.update(headers or {})
        data = raw if raw is not None else (None if body is None else jsonlib.dumps(body))
        async with self.session.request(
            method,
            self.base + path,
            data=data,
            headers=hdrs,
            params=params,
        ) as response:
            text = await response.text()
            parsed = jsonlib.loads(text) if text else None
            return Reply(response.status, parsed, response.headers)

    async def track(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", f"/track/v2/projects/{self.token}/{path}", body, **kw)

    async def data(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", f"/data/v2/projects/{self.token}/{path}", body, **kw)

    async def sandbox(self, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request(method, f"/_sandbox/{path}", body, auth=None, **kw)

    async def customers(self, **query: str) -> list[dict[str, Any]]:
        reply = await self.sandbox("GET", f"projects/{self.token}/customers", params=query)
        assert reply.status == HTTPStatus.OK
        result: list[dict[str, Any]] = reply.body["customers"]
        return result

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        params = {"event_type": event_type} if event_type else None
        reply = await self.sandbox("GET", f"projects/{self.token}/events", params=params)
        assert reply.status == HTTPStatus.OK
        result: list[dict[str, Any]] = reply.body["events"]
        return result

    async def stats(self) -> dict[str, Any]:
        reply = await self.sandbox("GET", "stats")
        result: dict[str, Any] = reply.body["projects"][self.token]
        return result

    async def update(
        self, ids: dict[str, Any], props: dict[str, Any], ts: float | None = None, **kw: Any
    ) -> Reply:
        body: dict[str, Any] = {"customer_ids": ids, "properties": props}
        if ts is not None:
            body["update_timestamp"] = ts
        return await self.track("customers", body, **kw)

    async def event(
        self,
        ids: dict[str, Any],
        event_type: str,
        props: dict[str, Any],
        ts: float | None = None,
        **kw: Any,
    ) -> Reply:
        body: dict[str, Any] = {"customer_ids": ids, "event_type": event_type, "properties": props}
        if ts is not None:
            body["timestamp"] = ts
        return await self.track("customers/events", body, **kw)

    async def attributes(self, ids: dict[str, Any], *attrs: dict[str, Any]) -> Reply:
        return await self.data(
            "customers/attributes", {"customer_ids": ids, "attributes": list(attrs)}
        )
