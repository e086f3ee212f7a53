"""Serving commands: `run` (everything in one process), `core`, `edge`, `relay`, `console`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from cli import migrate
from cli.embedded import with_local_secrets
from core_service.bootstrap import Core, build_core, build_relay
from core_service.metrics import serve_metrics
from core_service.server import CoreServer
from core_service.services import retention
from core_service.services.reconcile_schedule import run_schedule
from edge.app import init_app
from runtime.allocator import limit_arenas
from runtime.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from types import ModuleType

log = logging.getLogger("sitoo_bloomreach")


def _settle_heap() -> None:
    """Once started: collect, then move everything alive (modules, compiled schemas, pools)
    out of the collector's reach. Without this, each full collection walks every object of
    the imported libraries, a 30-70 ms pause on a busy 2-core host, seen as p99 spikes."""
    gc.collect()
    gc.freeze()


def _announce(line: str) -> None:
    # Scripts and tests wait for these lines on stdout; logs go to stderr.
    print(line, flush=True)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _wait_for_signal() -> None:
    await _stop_event().wait()


async def _start_edge(settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(init_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.edge_host, settings.edge_port)
    await site.start()
    port = _port(runner, settings.edge_port)
    _settle_heap()
    _announce(f"edge listening on http://{settings.edge_host}:{port}")
    return runner


async def serve_core(settings: Settings) -> None:
    core = await build_core(settings)
    try:
        server = CoreServer(core)
        await server.start()
        _settle_heap()
        _announce(f"core listening on {settings.core_listen.rsplit(':', 1)[0]}:{server.port}")
        await _wait_for_signal()
        log.info("shutdown requested; draining in-flight calls")
        await server.stop(settings.shutdown_grace_seconds)
    finally:
        await core.close()


async def serve_edge(settings: Settings) -> None:
    runner = await _start_edge(settings)
    try:
        await _wait_for_signal()
    finally:
        # Stops listening first, then waits for in-flight requests.
        await runner.cleanup()


def _reconcile_schedule(core: Core, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The relay process runs reconcile on a schedule when one is set (0 = off)."""
    interval = core.settings.reconcile_interval_seconds
    if interval <= 0:
        return None
    return asyncio.create_task(run_schedule(core.integrations, core.backfill, interval, stop))


def _retention_schedule(core: Core, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """Every relay process purges old rows on a schedule (0 = off). Several relays purging
    at once divide the rows (SKIP LOCKED), so it needs no leader."""
    interval = core.settings.retention_interval_seconds
    if interval <= 0:
        return None
    return asyncio.create_task(retention.run_schedule(core.retention, interval, stop))


def _reload_relay_settings(settings_changed: Callable[[], None]) -> None:
    settings_changed()
    # Announced after the relay marked its cache stale: the next message reads settings anew.
    _announce("relay settings reload requested")


async def serve_relay(settings: Settings) -> None:
    """The outbox relay alone (production: one or more beside the core, on PostgreSQL)."""
    core = await build_core(settings)
    metrics_runner = None
    try:
        relay = build_relay(core)
        stop = _stop_event()
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, _reload_relay_settings, relay.settings_changed
        )
        if settings.relay_metrics_listen:
            host, port = settings.relay_metrics_listen.rsplit(":", 1)
            metrics_runner = await serve_metrics(core.metrics.registry, host, int(port))
        _settle_heap()
        _announce("relay running")
        schedules = [
            task
            for task in (_reconcile_schedule(core, stop), _retention_schedule(core, stop))
            if task is not None
        ]
        await relay.run(stop)
        for schedule in schedules:
            await schedule
        totals = " ".join(f"{k}={v}" for k, v in sorted(relay.totals.items()))
        _announce(f"relay stopped: {totals}")
    finally:
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await core.close()


def _sandbox_stack() -> ModuleType:
    # Imported only when wanted: the production image leaves the emulators out.
    try:
        from cli import sandbox_stack
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "this installation has no sandbox emulators (an image built without "
            "WITH_SANDBOX=true): set SITOO_BR_RUN_SANDBOX=false"
        ) from exc
    return sandbox_stack


def _next_steps(console_url: str, settings: Settings, *, sandbox: bool) -> str:
    """The first hour after `make run`: where to sign in, and how to play a store day."""
    if settings.admin_token_file is not None:
        sign_in = f"cat {Path(settings.admin_token_file).resolve()}"
    else:
        sign_in = "the SITOO_BR_ADMIN_TOKEN this process was given"
    lines = [f"console: {console_url}", f"  sign in with the admin token: {sign_in}"]
    if sandbox:
        lines += [
            "play a store day against this sandbox (another terminal, same directory):",
            "  .venv/bin/sitoo-bloomreach sandbox driver store-day",
            f"  then watch it land: {console_url}/integrations/sandbox/operations",
        ]
    return "\n".join(lines)


async def serve_all(settings: Settings) -> None:
    sandbox_stack = _sandbox_stack() if settings.run_sandbox else None
    async with contextlib.AsyncExitStack() as stack:
        endpoints = None
        if sandbox_stack is not None:
            endpoints = await stack.enter_async_context(sandbox_stack.emulators(settings))
        core = await build_core(settings)
        stack.push_async_callback(core.close)
        server = CoreServer(core)
        await server.start()
        stack.push_async_callback(server.stop, settings.shutdown_grace_seconds)
        host = settings.core_listen.rsplit(":", 1)[0]
        _announce(f"core listening on {host}:{server.port}")
        edge_settings = settings.model_copy(update={"core_target": f"{host}:{server.port}"})
        runner = await _start_edge(edge_settings)
        stack.push_async_callback(runner.cleanup)
        stop = _stop_event()
        # The embedded default runs the relay in the same process (its metrics are the core's).
        relay = asyncio.create_task(build_relay(core).run(stop))

        async def stop_relay() -> None:
            stop.set()
            await relay

        for schedule in (_reconcile_schedule(core, stop), _retention_schedule(core, stop)):
            if schedule is not None:
                # Unwound after stop_relay (below) has set `stop`.
                stack.push_async_callback(
                    asyncio.wait_for, schedule, settings.shutdown_grace_seconds
                )
        stack.push_async_callback(stop_relay)
        edge_url = f"http://{settings.edge_host}:{_port(runner, settings.edge_port)}"
        if sandbox_stack is not None and endpoints is not None:
            credentials = await sandbox_stack.ensure_sandbox_integration(
                core.integrations, endpoints
            )
            driver_file = sandbox_stack.write_driver_defaults(
                settings.data_dir, edge_url, endpoints, credentials
            )
            _announce(sandbox_stack.describe(edge_url, endpoints, credentials, driver_file))
        # The operator's window onto the same core, on loopback like everything `run` serves.
        console = await _start_console(edge_settings)
        stack.push_async_callback(console.cleanup)
        _announce(
            _next_steps(
                f"http://{settings.console_host}:{_port(console, settings.console_port)}",
                settings,
                sandbox=endpoints is not None,
            )
        )
        _settle_heap()
        _announce("relay running")
        _announce("ready")
        await stop.wait()


def _serve(settings: Settings, main: Callable[[Settings], Coroutine[None, None, None]]) -> int:
    """A serving process's life: the malloc arena cap first (it binds only threads started
    after it: gRPC's, aiosqlite's), then the event loop until a signal stops it."""
    limit_arenas(settings.malloc_arena_max)
    asyncio.run(main(settings))
    return 0


def run_embedded(settings: Settings) -> int:
    limit_arenas(settings.malloc_arena_max)
    settings = with_local_secrets(settings)
    migrate.upgrade(settings.resolved_database_url)
    _announce(f"data directory: {settings.data_dir.resolve()}")
    asyncio.run(serve_all(settings))
    return 0


def run_core(settings: Settings) -> int:
    return _serve(settings, serve_core)


def run_relay(settings: Settings) -> int:
    return _serve(settings, serve_relay)


def run_edge(settings: Settings) -> int:
    return _serve(settings, serve_edge)


def _port(runner: web.AppRunner, configured: int) -> int:
    # The bound port: differs from the setting when that is 0 (tests ask for any free port).
    port: int = runner.addresses[0][1] if runner.addresses else configured
    return port


async def _start_console(settings: Settings) -> web.AppRunner:
    # Imported here: the console (Jinja2, its views) would stay resident in the core, the
    # edge and the relay, which never serve it (about 3 MB each).
    from console.app import init_app as init_console_app

    runner = web.AppRunner(init_console_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.console_host, settings.console_port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigurationError(
            f"the console cannot listen on {settings.console_host}:{settings.console_port} "
            f"({exc.strerror}): set SITOO_BR_CONSOLE_PORT to a free port (0 = any)"
        ) from exc
    except BaseException:
        await runner.cleanup()
        raise
    port = _port(runner, settings.console_port)
    _announce(f"console listening on http://{settings.console_host}:{port}")
    return runner


async def serve_console(settings: Settings) -> None:
    runner = await _start_console(settings)
    try:
        await _wait_for_signal()
    finally:
        await runner.cleanup()


def run_console(settings: Settings) -> int:
    return _serve(settings, serve_console)
