"""A TCP proxy a test can cut and restore: a database "restart" seen from the services, without
touching the shared PostgreSQL server other tests use.

Runs as its own process: ``python -m tests.support.tcp_proxy LISTEN_PORT TARGET_PORT``;
SIGUSR1 cuts (drops every connection and stops listening, so new ones are refused),
SIGUSR2 restores, SIGTERM ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


class TcpProxy:
    def __init__(self, listen_port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self.port = listen_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def main(listen_port: int, target_port: int) -> None:
    proxy = TcpProxy(listen_port, target_port)
    await proxy.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(proxy.cut()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(proxy.start()))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"proxy listening on {listen_port}", flush=True)
    await stop.wait()
    await proxy.cut()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
