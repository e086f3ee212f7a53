"""HTTP/1.1 requests as raw bytes: hostile headers (control characters, non-UTF-8) that
client libraries refuse to send, and the answer's status, headers and body."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [self.method.encode() + b" " + self.path + b" HTTP/1.1", b"Host: " + host.encode()]
        lines += [name + b": " + value for name, value in self.headers]
        lines += [b"Content-Length: " + str(len(self.body)).encode(), b"Connection: close"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    def describe(self) -> str:
        """Enough to reproduce the request by hand (bodies cut at 300 bytes)."""
        headers = "".join(f"\n  {n!r}: {v[:300]!r}" for n, v in self.headers)
        body = self.body[:300] + (b"..." if len(self.body) > 300 else b"")
        return f"{self.method} {self.path[:300]!r}{headers}\n  body ({len(self.body)} B): {body!r}"


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def basic(username: str, password: str) -> bytes:
    return aiohttp.encode_basic_auth(username, password).encode()


async def send(host: str, port: int, request: RawRequest, timeout: float = 30.0) -> RawResponse:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request.encode(f"{host}:{port}"))
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status, headers, body)
