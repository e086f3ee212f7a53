"""How the customer suite loads the stack: one row (warm-up, closed loop, open loop), rows
compared with the pass-through chain in interleaved rounds, the 100k soak, and the
pass-through chain itself (bench/passthrough.py) as processes."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

from bench.harness import LoadResult, closed_loop, open_loop
from harness.processes import free_port, running

CONCURRENCY = 50
RATE = 100.0
SOAK_REQUESTS = 100_000  # full run only
Call = Callable[[], Awaitable[None]]


async def measure_row(
    name: str, call: Callable[[], Awaitable[None]], quick: bool
) -> tuple[str, LoadResult, LoadResult]:
    seconds = 3.0 if quick else 10.0
    await closed_loop(call, concurrency=10, duration_s=1.0)  # warm pools and caches
    throughput = await closed_loop(call, concurrency=CONCURRENCY, duration_s=seconds)
    latency = await open_loop(call, rate_per_s=RATE, duration_s=seconds)
    return name, throughput, latency


# The ceiling and the rows compared with it are measured in interleaved rounds: the machine's
# drift during a run (the ceiling alone was seen at 1,643 to 2,205 requests/s between runs)
# then hits both alike, and each round gives its own ratio.
ROUNDS = 3


async def interleaved_rows(
    calls: list[tuple[str, Call]], quick: bool
) -> tuple[list[tuple[str, LoadResult, LoadResult]], dict[str, list[float]]]:
    """Each call's median round (throughput) and open-loop latency; each row's ratio to the
    first call (the ceiling) per round."""
    seconds = 1.0 if quick else 4.0
    for _, call in calls:
        await closed_loop(call, concurrency=10, duration_s=1.0)  # warm pools and caches
    rounds: dict[str, list[LoadResult]] = {name: [] for name, _ in calls}
    for _ in range(ROUNDS):
        for name, call in calls:
            rounds[name].append(
                await closed_loop(call, concurrency=CONCURRENCY, duration_s=seconds)
            )
    ceiling = [r.throughput for r in rounds[calls[0][0]]]
    ratios = {
        name: [r.throughput / c for r, c in zip(rounds[name], ceiling, strict=True)]
        for name, _ in calls[1:]
    }
    measured = []
    for name, call in calls:
        median = sorted(rounds[name], key=lambda r: r.throughput)[len(rounds[name]) // 2]
        latency = await open_loop(call, rate_per_s=RATE, duration_s=3.0 if quick else 10.0)
        measured.append((name, median, latency))
    return measured, ratios


async def soak(served: int, *calls: Callable[[], Awaitable[None]]) -> int:
    """The calls alternately until 100k customer requests were served; how many were."""
    cycle = itertools.cycle(calls)

    async def soak() -> None:
        await next(cycle)()

    while served < SOAK_REQUESTS:
        soaked = await closed_loop(soak, concurrency=CONCURRENCY, duration_s=10.0)
        served += soaked.requests + soaked.errors
    return served


def start_passthrough(stack: ExitStack, bloomreach_url: str, work: Path, body: str) -> int:
    """The pass-through chain (edge-shaped front, gRPC, core-shaped back): the ceiling the
    real path is compared with; its front's port."""
    grpc_port, front_port = free_port(), free_port()
    stack.enter_context(
        running(
            "pass-back",
            [
                "-m",
                "bench.passthrough",
                "back",
                "--grpc-port",
                str(grpc_port),
                "--target",
                bloomreach_url,
                "--body",
                body,
            ],
            {},
            work / "logs",
            "passthrough back ready",
        )
    )
    stack.enter_context(
        running(
            "pass-front",
            [
                "-m",
                "bench.passthrough",
                "front",
                "--port",
                str(front_port),
                "--grpc-target",
                f"127.0.0.1:{grpc_port}",
            ],
            {},
            work / "logs",
            "passthrough front ready",
        )
    )
    return front_port
