"""The architecture's ceiling: the same three hops as edge -> core -> Bloomreach, no logic.

``python -m bench.passthrough back --grpc-port G --target URL`` serves one generic unary gRPC
method that POSTs a fixed attributes body to the emulator with a pooled aiohttp session and
returns the bytes; ``python -m bench.passthrough front --port P --grpc-target HOST:G`` is an
aiohttp server whose one route calls that method. Both print a ready line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

import aiohttp
import grpc
from aiohttp import web

from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET

METHOD = "/bench.PassThrough/Call"


def _identity(data: bytes) -> bytes:
    return data


async def back(grpc_port: int, target: str, body: bytes) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=64))
    url = f"{target}/data/v2/projects/{DEFAULT_PROJECT_TOKEN}/customers/attributes"
    auth = aiohttp.encode_basic_auth(DEFAULT_KEY_ID, DEFAULT_SECRET)
    headers = {"Authorization": auth, "Content-Type": "application/json"}

    async def call(_request: bytes, _context: Any) -> bytes:
        async with session.post(url, data=body, headers=headers) as response:
            return await response.read()

    handler = grpc.method_handlers_generic_handler(
        "bench.PassThrough",
        {"Call": grpc.unary_unary_rpc_method_handler(call, _identity, _identity)},
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()
    print("passthrough back ready", flush=True)
    await _until_signal()
    await server.stop(1)
    await session.close()


async def front(port: int, grpc_target: str) -> None:
    channel = grpc.aio.insecure_channel(grpc_target)
    call = channel.unary_unary(
        METHOD, request_serializer=_identity, response_deserializer=_identity
    )

    async def handle(request: web.Request) -> web.Response:
        answer = await call(request.query_string.encode(), timeout=8)
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_get("/pass", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("passthrough front ready", flush=True)
    await _until_signal()
    await runner.cleanup()
    await channel.close(None)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough")
    parser.add_argument("role", choices=("front", "back"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--grpc-target", default="")
    parser.add_argument("--target", default="")
    parser.add_argument("--body", default="{}", help="the attributes request body (JSON)")
    args = parser.parse_args()
    if args.role == "back":
        body = json.dumps(json.loads(args.body)).encode()
        asyncio.run(back(args.grpc_port, args.target, body))
    else:
        asyncio.run(front(args.port, args.grpc_target))


if __name__ == "__main__":
    main()
