"""Backfill and reconcile over real processes: thousands of orders in the Sitoo emulator,
paged through its order list, enqueued through the outbox, tracked once in Bloomreach."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.order_stack import ACCOUNT, OrderStack, order_stack
from harness.processes import ROOT
from sandbox.driver.webhooks import order_event
from sandbox.sitoo_api.orders import OrderLine, sale_order

WINDOW_START = 1_700_000_000  # 2023-11-14
STEP = 60
BEFORE_WINDOW = 1_600_000_000


async def seed(o: OrderStack, count: int, orderdate: int, step: int, tag: str) -> list[int]:
    body = {
        "template": sale_order([OrderLine("SKU-1", 1, "80.00")], email="template@example.com"),
        "count": count,
        "orderdate": orderdate,
        "orderdate_step": step,
        "email_pattern": f"{tag}{{n}}@example.com",
    }
    reply = await o.emulator(o.sitoo_url, "POST", f"/_sandbox/accounts/{ACCOUNT}/orders", body)
    ids: list[int] = reply["orderids"]
    return ids


async def send_webhooks(o: OrderStack, order_ids: list[int], date: int) -> None:
    events = [
        order_event(account_id=ACCOUNT, eshop_id=1, order_id=i, event_date=date) for i in order_ids
    ]
    async with o.sender() as sender:
        await sender.send(events)


def run_json(o: OrderStack, *args: str) -> dict[str, Any]:
    result = o.s.cli(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def purchases_by_id(o: OrderStack) -> Counter[str]:
    return Counter(
        str(e["properties"]["purchase_id"]) for e in await o.bloomreach_events("purchase")
    )


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    env = {**service_env, "SITOO_BR_BACKFILL_PAGE_SIZE": "200"}
    with order_stack(database_url, env, tmp_path / "logs") as o:
        yield o


async def test_backfill_is_complete_and_idempotent(orders: OrderStack) -> None:
    n = 2000
    window_to = WINDOW_START + n * STEP
    ids = await seed(orders, n, WINDOW_START, STEP, "backfill")
    outside = await seed(orders, 20, BEFORE_WINDOW, 1, "old")
    # Some orders reached us by webhook already: backfill must not track them again.
    await send_webhooks(orders, ids[:30], WINDOW_START)
    await orders.settle()
    window = ("--integration", "acme", "--from", str(WINDOW_START), "--to", str(window_to))

    dry = run_json(orders, "backfill", *window, "--dry-run")
    assert (dry["scanned"], dry["enqueued"], dry["already_known"]) == (n, n - 30, 30)
    assert (await orders.sql("SELECT count(*) FROM outbox_messages"))[0][0] == 30

    result = orders.s.cli("backfill", *window)  # not a terminal: plain progress lines
    assert result.returncode == 0, result.stderr
    assert f"{n} orders scanned, {n - 30} enqueued, 30 already known" in result.stdout
    assert f"backfill: {n}/{n} scanned" in result.stderr
    await orders.settle(limit_s=240)

    landed = await purchases_by_id(orders)
    assert set(landed) == {str(i) for i in ids}  # every order in the window, none outside
    assert not set(landed) & {str(i) for i in outside}
    assert set(landed.values()) == {1}
    assert (await orders.sql("SELECT count(*) FROM tracked_orders"))[0][0] == n

    again = run_json(orders, "backfill", *window)
    assert (again["scanned"], again["enqueued"], again["already_known"]) == (n, 0, n)
    assert (await orders.sql("SELECT count(*) FROM outbox_messages"))[0][0] == n
    assert not again["resumed"]


@pytest.fixture
def slow_orders(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[OrderStack]:
    env = {
        **service_env,
        "SITOO_BR_BACKFILL_PAGE_SIZE": "50",
        "SITOO_BR_BACKFILL_SITOO_REQUESTS_PER_SECOND": "5",
    }
    with order_stack(sqlite_database_url, env, tmp_path / "logs") as o:
        yield o


async def test_backfill_resumes_after_kill_9_of_the_core(slow_orders: OrderStack) -> None:
    o = slow_orders
    n = 1500
    ids = await seed(o, n, WINDOW_START, STEP, "resume")
    window = [
        "--integration", "acme", "--from", str(WINDOW_START), "--to", str(WINDOW_START + n * STEP)
    ]  # fmt: skip
    first = subprocess.Popen(  # noqa: ASYNC220 - our own CLI, polled below
        [sys.executable, "-m", "cli.main", "backfill", *window, "--json"],
        cwd=ROOT,
        env={**os.environ, **o.s.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        scanned = 0
        for _ in range(600):
            rows = await o.sql("SELECT scanned FROM backfill_jobs")
            scanned = int(rows[0][0]) if rows else 0
            if scanned >= 300:
                break
            await asyncio.sleep(0.1)
        assert 300 <= scanned < n, scanned
        assert o.s.core is not None
        o.s.core.kill()  # SIGKILL mid-job
        first.wait(timeout=60)
        assert first.returncode != 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    interrupted = await o.sql("SELECT state, scanned, cursor_order_id FROM backfill_jobs")
    state, scanned_before, cursor = interrupted[0]
    assert state == "running" and 0 < scanned_before < n and cursor >= ids[0]

    o.s.start_core()
    resumed = run_json(o, "backfill", *window)
    assert resumed["resumed"] is True
    # Exactly n: the resumed run continued after the cursor instead of rescanning.
    assert (resumed["scanned"], resumed["enqueued"], resumed["already_known"]) == (n, n, 0)
    job = await o.sql("SELECT state, runs, scanned FROM backfill_jobs")
    assert job == [("done", 2, n)]
    await o.settle(limit_s=240)
    landed = await purchases_by_id(o)
    assert set(landed) == {str(i) for i in ids}
    assert set(landed.values()) == {1}


async def test_reconcile_finds_exactly_the_dropped_webhooks(orders: OrderStack) -> None:
    now = int(time.time())
    ids = await seed(orders, 40, now - 3600, 30, "recent")
    dropped = {ids[3], ids[7], ids[19], ids[33]}
    await send_webhooks(orders, [i for i in ids if i not in dropped], now - 3600)
    await orders.settle()

    report = run_json(orders, "reconcile", "--integration", "acme", "--since", "2h")
    assert sorted(report["missed_order_ids"]) == sorted(dropped)
    assert (report["scanned"], report["enqueued"]) == (40, 4)
    await orders.settle()
    landed = await purchases_by_id(orders)
    assert set(landed) == {str(i) for i in ids} and set(landed.values()) == {1}

    text = orders.s.cli("reconcile", "--integration", "acme", "--since", "2h")
    assert text.returncode == 0, text.stderr
    assert "the webhooks missed nothing" in text.stdout


@pytest.fixture
def scheduled(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[OrderStack]:
    env = {
        **service_env,
        "SITOO_BR_RECONCILE_INTERVAL_SECONDS": "1",
        "SITOO_BR_RECONCILE_GRACE_SECONDS": "0",
    }
    with order_stack(sqlite_database_url, env, tmp_path / "logs") as o:
        yield o


async def test_the_relay_reconciles_on_a_schedule(scheduled: OrderStack) -> None:
    ids = await seed(scheduled, 5, int(time.time()) - 600, 1, "scheduled")
    # No webhook at all: only the relay's scheduled reconcile can find these orders.
    for _ in range(300):
        tracked = await scheduled.sql("SELECT count(*) FROM tracked_orders")
        if tracked[0][0] == len(ids):
            break
        await asyncio.sleep(0.2)
    landed = await purchases_by_id(scheduled)
    assert set(landed) == {str(i) for i in ids}
    assert set(landed.values()) == {1}
