"""A scripted HTTP receiver that plays the edge (or any server) for driver tests.

It listens on ``127.0.0.1`` on a free port, answers each request with the next entry of a
script (a status, a :class:`Reply`, or :data:`HANG` = never answer until released) and records
exactly what it received, including the raw path with its percent-encoding.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

HANG = "hang"  # script entry: never answer (until the test ends)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialised unless raw is given
    raw: str | None = None


@dataclass
class Received:
    method: str
    path: str
    raw_path: str  # path + query exactly as sent (percent-encoding intact)
    headers: dict[str, str]
    body: Any
    text: str


Script = list[int | str | Reply]
Handler = Callable[[web.Request, "Received"], Awaitable[web.StreamResponse | None]]


@dataclass
class Receiver:
    """Answers each request with the next scripted entry (then ``default``) and records it."""

    script: Script = field(default_factory=list)
    default: int | Reply = 200
    records: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    handler: Handler | None = None
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            text = await request.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = None
            record = Received(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                headers=dict(request.headers),
                body=body,
                text=text,
            )
            self.records.append(record)
            if self.handler is not None:
                custom = await self.handler(request, record)
                if custom is not None:
                    return custom
            entry = self.script.pop(0) if self.script else self.default
            if entry == HANG:
                await self.release.wait()
                return web.Response(status=200)
            reply = entry if isinstance(entry, Reply) else Reply(int(entry))
            if reply.raw is not None:
                return web.Response(status=reply.status, text=reply.raw)
            if reply.body is None:
                return web.Response(status=reply.status)
            return web.json_response(reply.body, status=reply.status)
        finally:
            self.in_flight -= 1

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
