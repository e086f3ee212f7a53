"""What every benchmark suite shares: load generators, latency statistics, RSS, the report."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

Call = Callable[[], Awaitable[None]]


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50_ms(self) -> float:
        return self.percentile(50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000


async def closed_loop(call: Call, *, concurrency: int, duration_s: float) -> LoadResult:
    """``concurrency`` clients, each sending its next request when the last one answered."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await call()
            except Exception:  # a benchmark counts failures, it does not stop
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return LoadResult(len(latencies), errors, time.perf_counter() - started, latencies)


async def open_loop(call: Call, *, rate_per_s: float, duration_s: float) -> LoadResult:
    """Requests started on a fixed schedule, whatever the answers do: latency at a given load."""
    latencies: list[float] = []
    errors = 0
    tasks: list[asyncio.Task[None]] = []
    interval = 1.0 / rate_per_s
    count = int(rate_per_s * duration_s)

    async def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            await call()
        except Exception:  # counted, not fatal
            errors += 1
            return
        latencies.append(time.perf_counter() - started)

    begin = time.perf_counter()
    for index in range(count):
        delay = begin + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return LoadResult(len(latencies), errors, time.perf_counter() - begin, latencies)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
