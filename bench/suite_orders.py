"""Order path benchmarks: webhook ingest (vs plain durable inserts), relay throughput end to
end with 1/2/4 relays on PostgreSQL (emulators at zero and at realistic latency), and relay
memory over a large backlog. Real processes throughout (harness/ starts them)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bench.harness import closed_loop, open_loop, rss_mb
from core_service.adapters.db.engine import create_engine
from core_service.crypto import MasterKey
from harness.databases import postgres_database as _pg
from harness.databases import sqlite_url
from harness.metrics import sample_value
from harness.order_stack import OrderStack, order_stack
from harness.processes import free_port
from sandbox.sitoo_api.orders import OrderLine, sale_order

BATCH = 10
SENDERS = 50


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    core_port = free_port()
    return {
        "SITOO_BR_DATA_DIR": str(tmp / "data"),
        "SITOO_BR_MASTER_KEY": MasterKey.generate(),
        "SITOO_BR_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_CORE_LISTEN": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{core_port}",
        "SITOO_BR_EDGE_PORT": str(free_port()),
        "SITOO_BR_CORE_METRICS_LISTEN": "",
        "SITOO_BR_LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    """harness's helper runs its own event loop; here one is running, so use a thread."""
    holder: dict[str, Any] = {}
    manager = _pg()
    holder["url"] = _in_thread(manager.__enter__)
    try:
        yield holder["url"]
    finally:
        _in_thread(lambda: manager.__exit__(None, None, None))


def _in_thread(call: Any) -> Any:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield sqlite_url(tmp)
    else:
        with postgres_database() as url:
            yield url


# ---- ingest ----------------------------------------------------------------------------


def _batch(counter: Iterator[int]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": uuid.uuid4().hex,
            "event_type": "order",
            "event_date": 1_700_000_000,
            "account_id": 1500,
            "data": {"eshop_id": 1, "order_id": next(counter), "order_event_type": "add"},
        }
        for _ in range(BATCH)
    ]


async def _group_sizes(session: aiohttp.ClientSession, metrics_url: str) -> tuple[float, float]:
    """(sum, count) of the core's batches-per-transaction histogram."""
    async with session.get(metrics_url) as response:
        body = await response.text()
    total = sample_value(body, "core_webhook_group_batches_sum") or 0.0
    count = sample_value(body, "core_webhook_group_batches_count") or 0.0
    return total, count


@dataclass
class IngestResult:
    events_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    loaded_group: float  # mean webhook batches per transaction, closed loop
    paced_group: float  # the same at 500 events/s


async def _ingest(o: OrderStack, seconds: float, metrics_url: str) -> IngestResult:
    user, password = o.webhook
    auth = aiohttp.encode_basic_auth(user, password)
    url = f"{o.s.edge_url}/sitoo/acme/events"
    counter = itertools.count(1)
    connector = aiohttp.TCPConnector(limit=SENDERS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> None:
            async with session.post(
                url, json=_batch(counter), headers={"Authorization": auth}
            ) as response:
                if response.status != HTTPStatus.OK:
                    raise RuntimeError(str(response.status))

        before = await _group_sizes(session, metrics_url)
        loaded = await closed_loop(post, concurrency=SENDERS, duration_s=seconds)
        middle = await _group_sizes(session, metrics_url)
        paced = await open_loop(post, rate_per_s=500 / BATCH, duration_s=seconds)
        after = await _group_sizes(session, metrics_url)

    def mean(a: tuple[float, float], b: tuple[float, float]) -> float:
        return (b[0] - a[0]) / (b[1] - a[1]) if b[1] > a[1] else float("nan")

    return IngestResult(
        loaded.throughput * BATCH,
        paced.p50_ms,
        paced.p99_ms,
        loaded.errors + paced.errors,
        mean(before, middle),
        mean(middle, after),
    )


async def _baseline(url: str, seconds: float) -> float:
    """The same rows in the same transactions, plain INSERTs, 50 writers: the floor cost."""
    engine = create_engine(url, pool_size=SENDERS)
    counter = itertools.count(10_000_000)
    inbox = text(
        "INSERT INTO inbox_events (integration_id, event_id, event_type, event_date, outcome,"
        " received_at) VALUES (1, :e, 'order', 1, 'accepted', 0)"
    )
    outbox = text(
        "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state, attempts,"
        " available_at, created_at, updated_at, generation)"
        " VALUES (1, :k, 'order', '{}', 'delivered', 0, 0, 0, 0, 0)"
    )

    async def write() -> None:
        ids = [next(counter) for _ in range(BATCH)]
        async with engine.begin() as connection:
            await connection.execute(inbox, [{"e": uuid.uuid4().hex} for _ in ids])
            await connection.execute(outbox, [{"k": f"b:{i}"} for i in ids])

    try:
        result = await closed_loop(write, concurrency=SENDERS, duration_s=seconds)
    finally:
        await engine.dispose()
    return result.throughput * BATCH


async def _ingest_section(quick: bool) -> str:
    seconds = 3.0 if quick else 8.0
    rows = []
    for kind in ("postgres", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp)) as url:
            metrics = f"127.0.0.1:{free_port()}"
            env = _env(Path(tmp), SITOO_BR_CORE_METRICS_LISTEN=metrics)
            with order_stack(url, env, Path(tmp) / "logs", relays=0) as o:
                r = await _ingest(o, seconds, f"http://{metrics}/metrics")
            baseline = await _baseline(url, seconds)
        rows.append(
            f"| {kind} | {r.events_s:,.0f} | {baseline:,.0f} | {r.events_s / baseline:.0%} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} "
            f"| {r.loaded_group:.1f} / {r.paced_group:.1f} |"
        )
    return "\n".join(
        [
            "### Webhook ingest (edge → core → inbox + outbox, group commit)",
            "",
            f"Batches of {BATCH} order events, {SENDERS} concurrent senders (closed loop, "
            f"{seconds:.0f} s), then latency at a fixed 500 events/s (open loop). Baseline: "
            "plain durable INSERTs of the same rows, one transaction per batch of "
            f"{BATCH}, {SENDERS} writers, same database settings, no HTTP/gRPC. The core "
            "commits concurrent batches together (each answered after the commit holding "
            "it); the last column is the mean number of batches per transaction under load "
            "and at 500 events/s.",
            "",
            "| database | events/s | baseline rows/s | ratio | p50 ack ms @500/s "
            "| p99 ack ms @500/s | errors | batches per commit |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


# ---- relay -----------------------------------------------------------------------------


def _template() -> dict[str, Any]:
    lines = [OrderLine(f"SKU-{i}", 1 + i % 2, "99.00", name=f"Item {i}") for i in range(3)]
    return sale_order(lines, customer_id="placeholder", store_name="Bench", receipt_id="1")


async def _seed_sitoo(o: OrderStack, count: int) -> tuple[int, int]:
    template = _template()
    template["additionaldata"].pop("crm-customerid")
    body = await o.emulator(
        o.sitoo_url,
        "POST",
        "/_sandbox/accounts/1500/orders",
        {
            "template": template,
            "count": count,
            "orderdate": 1_700_000_000,
            "orderdate_step": 1,
            "site": 1,
            "email_pattern": "customer{n}@example.com",
        },
    )
    return int(body["first_orderid"]), int(body["last_orderid"])


async def _enqueue(o: OrderStack, first: int, last: int) -> None:
    """Outbox rows as the webhook would have left them (bulk, so seeding is not measured)."""
    # Integers only, formatted by us: no injection surface.
    await o.sql_exec(
        "TRUNCATE tracked_orders, outbox_messages",
        "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state, attempts,"  # noqa: S608
        " available_at, created_at, updated_at, generation)"
        " SELECT i.id, '1500:1:' || g, 'order', json_build_object('order',"
        " json_build_object('account_id', 1500, 'eshop_id', 1, 'order_id', g)), 'pending', 0,"
        f" 0, 0, 0, 0 FROM generate_series({int(first)}, {int(last)}) g, integrations i",
    )


async def _relay_run(o: OrderStack, relays: int, first: int, last: int) -> float:
    """Relays are started (and idle on an empty outbox) before the clock starts: a relay
    process takes seconds to start on a loaded 2-core machine, which is not relay work."""
    for _ in range(relays):
        o.start_relay()
    started = time.perf_counter()
    await _enqueue(o, first, last)
    await o.settle(limit_s=600)
    elapsed = time.perf_counter() - started
    for relay in o.relays:
        relay.terminate()
    o.relays.clear()
    return (last - first + 1) / elapsed


async def _relay_section(quick: bool) -> str:
    count = 1500 if quick else 5000
    budget = 50.0  # Bloomreach requests/s for the whole installation, split across relays
    rows = []
    for regime, faults in (
        ("zero added latency", None),
        ("Sitoo 30 ms, Bloomreach 50 ms", (30, 50)),
    ):
        cells = []
        for relays in (1, 2, 4):
            with tempfile.TemporaryDirectory() as tmp, postgres_database() as url:
                env = _env(
                    Path(tmp),
                    SITOO_BR_BLOOMREACH_REQUESTS_PER_SECOND=str(budget / relays),
                    SITOO_BR_RELAY_LEASE_SECONDS="60",
                )
                with order_stack(url, env, Path(tmp) / "logs", relays=0) as o:
                    if faults:
                        await o.faults(o.sitoo_url, {"get_order": {"latency_ms": faults[0]}})
                        await o.faults(o.bloomreach_url, {"batch": {"latency_ms": faults[1]}})
                    first, last = await _seed_sitoo(o, count)
                    cells.append(await _relay_run(o, relays, first, last))
        rows.append(f"| {regime} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
    return "\n".join(
        [
            "### Relay end to end (claim → Sitoo GET order → Bloomreach batch → commit)",
            "",
            f"{count:,} pending orders (3 lines each: 4 commands, ~12 orders per batch) on "
            f"PostgreSQL, emulators as processes; a Bloomreach budget of {budget:.0f} "
            "requests/s split evenly across the relays (the setting is per process). "
            "Orders/s = orders / time from the enqueue (one transaction, relays already "
            "running and idle) until the outbox is empty.",
            "",
            "| regime | 1 relay | 2 relays | 4 relays |",
            "|---|---|---|---|",
            *rows,
        ]
    )


async def _memory_section(quick: bool) -> str:
    backlog = 200_000 if quick else 1_000_000
    seconds = 8 if quick else 20
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as url:
        env = _env(Path(tmp), SITOO_BR_RELAY_LEASE_SECONDS="60")
        with order_stack(url, env, Path(tmp) / "logs", relays=0) as o:
            first, _ = await _seed_sitoo(o, 20_000)
            await _enqueue(o, first, first + backlog - 1)
            relay = o.start_relay()
            samples = []
            for _ in range(seconds):
                await asyncio.sleep(1)
                samples.append(rss_mb(relay.process.pid))
            done = await o.sql("SELECT count(*) FROM tracked_orders")
            relay.terminate()
            o.relays.clear()
    return "\n".join(
        [
            "### Relay memory over a backlog",
            "",
            f"{backlog:,} pending messages on PostgreSQL (the first 20,000 exist in Sitoo, the "
            "rest answer 404 and go back to the queue); one relay sampled every second for "
            f"{seconds} s while it worked ({done[0][0]:,} orders delivered meanwhile).",
            "",
            "| RSS first sample MB | RSS max MB | RSS last MB |",
            "|---|---|---|",
            f"| {samples[0]:.0f} | {max(samples):.0f} | {samples[-1]:.0f} |",
        ]
    )


async def run(quick: bool) -> str:
    parts = ["## Order path", ""]
    parts.append(await _ingest_section(quick))
    parts.append("")
    parts.append(await _relay_section(quick))
    parts.append("")
    parts.append(await _memory_section(quick))
    return "\n".join(parts)
