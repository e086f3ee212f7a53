"""Customer search while Bloomreach times out (issue 15 §3): time to answer with the circuit
breaker (default settings) and without it (``SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES=0``).

The emulator answers every ``attributes`` call after 8 s, beyond the core's 5 s call timeout:
an outage that looks like a hang. After a warm-up (one till's searches until the outage is
known: 5 timeouts), tills search in a closed loop with a cashier's second between answer and
next search (a cashier retries by hand; Retry-After is not honoured, so a till is not made the
probe by waiting exactly the cool-down); answers and the Bloomreach calls the core started are
counted over the window. Without the breaker the call gate already
lets only one call at a time go out to a project slower than its timeout, but that call's till
waits out the timeout, and a till alone always does; with it, after 5 failures the tills are
answered at once and only one probe per cool-down (5 s, doubling to 60 s) goes out. Real
processes: emulator, core and edge over SQLite."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import aiohttp

from harness.customer_stack import INTEGRATION, customer_stack
from harness.metrics import sample_value
from runtime.settings import Settings

HEDGE_DEFAULT_S = Settings.model_fields["card_cache_hedge_seconds"].default

TILLS = (1, 20)
OUTAGE_LATENCY_MS = 8000
CLIENT_TIMEOUT_S = 12.0
THINK_S = 1.0
WARM_UP_SEARCHES = 6  # the default 5 failures open the circuit


@dataclass
class Cell:
    breaker: bool
    tills: int
    setting: str = ""  # the first column when it is not the breaker's on/off
    statuses: Counter[int] = field(default_factory=Counter)
    took: list[float] = field(default_factory=list)
    calls: float = 0.0  # Bloomreach attribute calls the core started

    def quantile(self, q: float) -> float:
        ordered = sorted(self.took)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _email(n: int) -> str:
    return f"till{n}@example.se"


async def _calls(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url) as response:
        text = await response.text()
    name = "core_upstream_request_duration_seconds_count"
    return sample_value(text, name, upstream="bloomreach", operation="attributes") or 0.0


async def _search(session: aiohttp.ClientSession, url: str, auth: str, n: int, cell: Cell) -> None:
    started = time.monotonic()
    try:
        async with session.get(
            f"{url}&key={_email(n)}",
            headers={"Authorization": auth},
            timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S),
        ) as response:
            await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError):
        status = 0
    cell.took.append(time.monotonic() - started)
    cell.statuses[status] += 1


async def _run_cell(
    session: aiohttp.ClientSession, url: str, auth: str, cell: Cell, seconds: float
) -> None:
    end = time.monotonic() + seconds

    async def till(n: int) -> None:
        while time.monotonic() < end:
            await _search(session, url, auth, n, cell)
            await asyncio.sleep(min(THINK_S, max(0.0, end - time.monotonic())))

    await asyncio.gather(*(till(n) for n in range(cell.tills)))


async def _measure(breaker: bool, seconds: float) -> list[Cell]:
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SITOO_BR_LOG_LEVEL": "ERROR"}
        if not breaker:
            env["SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES"] = "0"
        with customer_stack(Path(tmp), env) as cs:
            auth = aiohttp.encode_basic_auth(cs.username, cs.password)
            url = f"{cs.edge_url}/sitoo/{INTEGRATION}/customers?key_type=email"
            metrics_url = f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                faults = {"attributes": {"latency_ms": OUTAGE_LATENCY_MS}}
                async with session.put(
                    f"{cs.bloomreach_url}/_sandbox/faults", json={"faults": faults}
                ) as response:
                    assert response.status == HTTPStatus.OK, await response.text()
                warm_up = Cell(breaker, 1)
                for _ in range(WARM_UP_SEARCHES):
                    await _search(session, url, auth, 0, warm_up)
                for tills in TILLS:
                    cell = Cell(breaker, tills)
                    before = await _calls(session, metrics_url)
                    await _run_cell(session, url, auth, cell, seconds)
                    cell.calls = await _calls(session, metrics_url) - before
                    cells.append(cell)
    return cells


async def _measure_hedge(hedge: bool, seconds: float) -> list[Cell]:
    """Known customers (cards cached while Bloomreach was healthy), then Bloomreach hangs from
    the first search on: the till's wait with the default hedge delay, and with it off."""
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SITOO_BR_LOG_LEVEL": "ERROR"}
        if not hedge:
            env["SITOO_BR_CARD_CACHE_HEDGE_SECONDS"] = "0"
        with customer_stack(Path(tmp), env) as cs:
            auth = aiohttp.encode_basic_auth(cs.username, cs.password)
            base = f"{cs.edge_url}/sitoo/{INTEGRATION}/customers"
            metrics_url = f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                tills = max(TILLS)
                for n in range(tills):  # every till's customer known, and cached
                    async with session.post(
                        base, json={"email": _email(n)}, headers={"Authorization": auth}
                    ) as response:
                        assert response.status == HTTPStatus.OK, await response.text()
                    await _search(session, f"{base}?key_type=email", auth, n, Cell(hedge, 1))
                for _ in range(600):  # the cards are written off the request's path
                    if await _cached_cards(session, metrics_url) >= tills:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the tills' cards were not cached")
                faults = {"attributes": {"latency_ms": OUTAGE_LATENCY_MS}}
                async with session.put(
                    f"{cs.bloomreach_url}/_sandbox/faults", json={"faults": faults}
                ) as response:
                    assert response.status == HTTPStatus.OK, await response.text()
                for count in TILLS:
                    cell = Cell(True, count, setting=f"{HEDGE_DEFAULT_S} s" if hedge else "off")
                    before = await _calls(session, metrics_url)
                    await _run_cell(session, f"{base}?key_type=email", auth, cell, seconds)
                    cell.calls = await _calls(session, metrics_url) - before
                    cells.append(cell)
    return cells


async def _cached_cards(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url) as response:
        text = await response.text()
    return sample_value(text, "core_card_cache_writes_total", outcome="stored") or 0.0


def _row(cell: Cell, seconds: float) -> str:
    slow = sum(1 for t in cell.took if t >= 1.0)
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(cell.statuses.items()))
    return (
        f"| {cell.setting or ('on' if cell.breaker else 'off')} | {cell.tills} | "
        f"{len(cell.took):,} | "
        f"{cell.quantile(0.5) * 1000:,.0f} | {cell.quantile(0.99) * 1000:,.0f} | "
        f"{slow} | {cell.calls:.0f} | {cell.calls / seconds:.2f} | {statuses} |"
    )


async def run(quick: bool) -> str:
    seconds = 15.0 if quick else 40.0
    load_before = os.getloadavg()[0]
    cells = [*await _measure(True, seconds), *await _measure(False, seconds)]
    hedged = [*await _measure_hedge(True, seconds), *await _measure_hedge(False, seconds)]
    lines = [
        "## Customer search while Bloomreach times out (circuit breaker, issue 15 §3)",
        "",
        f"Every Bloomreach `attributes` call hangs for {OUTAGE_LATENCY_MS / 1000:g} s (beyond "
        f"the 5 s call timeout). After a warm-up of {WARM_UP_SEARCHES} searches by one till "
        f"(the outage becomes known), a closed loop of tills for {seconds:g} s per row, one row "
        "after the other on one stack (the breaker's state carries over, as in a real outage); "
        f"a till searches again {THINK_S:g} s after each answer, whatever it was (a cashier; "
        "`Retry-After` is not honoured). Time to answer as the till sees it; Bloomreach "
        "calls = the attribute calls the core started. "
        "Breaker: default settings (5 failures, 5 s cool-down doubling to 60 s); off: "
        "`SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES=0`. Until the card cache lands the fallback "
        "is a 503, so both sides answer 503/504; what differs is how long the till waits.",
        "",
        "| breaker | tills | answers | p50 ms | p99 ms | answers >= 1 s | Bloomreach calls | "
        "calls /s | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *(_row(cell, seconds) for cell in cells),
        "",
        "### Known customers: hedged reads",
        "",
        f"The tills' customers were created and searched while Bloomreach was healthy (their "
        f"cards cached); then every `attributes` call hangs for "
        f"{OUTAGE_LATENCY_MS / 1000:g} s from the first row's first search on (no warm-up: "
        "the start of an outage), the same closed loop. Breaker on (defaults) in both; hedge: "
        f"the default `SITOO_BR_CARD_CACHE_HEDGE_SECONDS` ({HEDGE_DEFAULT_S} s) or off (`0`). "
        "Statuses are "
        "200 answered from the card cache either way; what differs is how long the till "
        "waits before the circuit opens and for each probe.",
        "",
        "| hedge | tills | answers | p50 ms | p99 ms | answers >= 1 s | Bloomreach calls | "
        "calls /s | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *(_row(cell, seconds) for cell in hedged),
        "",
        f"- Machine load (1-min load average) {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end of this suite, on {os.cpu_count()} cores: "
        "above the core count means other work shared the machine and the numbers are noisy.",
    ]
    return "\n".join(lines)
