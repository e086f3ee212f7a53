"""The order path under failure: kill -9, several relays, vendor faults, dead and replay,
quarantine. Real processes throughout."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from core_service.adapters.db.sealed_commands import seal_commands
from core_service.crypto import MasterKey, SecretBox
from harness.databases import postgres_database
from harness.metrics import sample_value
from harness.order_stack import ACCOUNT, OrderStack, order_stack
from harness.processes import free_port
from sandbox.driver.scenario import StoreDayConfig
from tests.e2e.test_orders import assert_landed_exactly, play_day, seed_customers
from tests.support.eventually import eventually


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    with order_stack(database_url, service_env, tmp_path / "logs") as o:
        yield o


def day(seed: int, sales: int = 20, refunds: int | None = None) -> StoreDayConfig:
    return StoreDayConfig(
        customers=5,
        sales=sales,
        refunds=min(4, sales // 3) if refunds is None else refunds,
        anonymous=3,
        seed=seed,
        run_tag=f"s{seed}",
        create_customers_via_spi=False,
    )


async def test_kill_9_relay_and_core_repeatedly(orders: OrderStack) -> None:
    """Every accepted order tracked exactly once, however often the relay dies mid-delivery.

    Bloomreach is slow and sometimes loses its answer after storing (the crash window between
    its answer and our commit), so kills land inside deliveries."""
    config = day(11, sales=40)
    await seed_customers(orders, config)
    await orders.faults(
        orders.bloomreach_url,
        {"batch": {"latency_ms": 40, "error_after_commit_rate": 0.1, "error_status": 503}},
    )
    rng = random.Random(5)
    kills = 0

    async def killer() -> None:
        nonlocal kills
        for round_no in range(6):
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            for relay in orders.relays:
                relay.kill()  # SIGKILL: no drain, leases left behind
            kills += 1
            if round_no == 2:
                assert orders.s.core is not None
                orders.s.core.kill()
                await asyncio.to_thread(orders.s.start_core)
            await asyncio.to_thread(orders.start_relay)

    expected, _ = await asyncio.gather(play_day(orders, config, seed=3), killer())
    await orders.faults(orders.bloomreach_url, {})
    await orders.settle()
    await assert_landed_exactly(orders, expected)
    assert kills == 6
    assert (await orders.states()).get("dead", 0) == 0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("relays", [2, 4])
async def test_several_relays_divide_the_work(
    relays: int, pg_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    # Each relay holds at most 8 messages, so a day's burst of orders is more than one relay
    # takes at once: the webhook commits concurrent batches together, and an unbounded first
    # relay to poll would claim the whole burst (and rightly: it can send it in two calls).
    env = {**service_env, "SITOO_BR_RELAY_MAX_IN_FLIGHT": "8", "SITOO_BR_RELAY_BATCH_SIZE": "8"}
    with order_stack(pg_url, env, tmp_path / "logs", relays=relays) as o:
        await o.faults(o.sitoo_url, {"get_order": {"latency_ms": 30}})
        await o.faults(o.bloomreach_url, {"batch": {"latency_ms": 50}})
        config = day(21, sales=60)
        await seed_customers(o, config)
        expected = await play_day(o, config, seed=4)
        await o.settle()
        await assert_landed_exactly(o, expected)
        # No order was even sent twice: Bloomreach saw no duplicate to drop.
        assert (await o.bloomreach_stats())["events_duplicate_dropped"] == 0
        shares = []
        for relay in o.relays:
            relay.terminate()
            line = next(x for x in relay.output if x.startswith("relay stopped"))
            counts = dict(kv.split("=") for kv in line.split(":", 1)[1].split())
            shares.append(int(counts.get("delivered", 0)) + int(counts.get("skipped", 0)))
        assert sum(1 for share in shares if share > 0) >= 2, shares


async def test_vendor_faults_then_dead_then_replay(orders: OrderStack) -> None:
    """429 storms, 5xx bursts and Sitoo 404s are ridden out; wrong Bloomreach credentials
    make messages dead (attempts and payload kept); after the fix a replay delivers them."""
    config = day(31, sales=10)
    await seed_customers(orders, config)
    await orders.faults(
        orders.bloomreach_url,
        {"batch": {"error_rate": 0.4, "error_status": 429, "retry_after_s": 0.2}},
    )
    await orders.faults(orders.sitoo_url, {"get_order": {"error_rate": 0.3, "error_status": 503}})
    await orders.emulator(orders.sitoo_url, "PUT", "/_sandbox/settings", {"not_found_reads": 1})
    expected = await play_day(orders, config, seed=5)
    await orders.settle()
    await assert_landed_exactly(orders, expected)
    await orders.faults(orders.bloomreach_url, {})
    await orders.faults(orders.sitoo_url, {})

    # Wrong credentials: permanent, dead with the error kept.
    wrong = orders.s.cli("integration", "update", "acme", "--bloomreach-secret", "wrong")
    assert wrong.returncode == 0, wrong.stderr
    second = day(32, sales=4, refunds=0)
    await seed_customers(orders, second)
    expected2 = await play_day(orders, second, seed=6)
    await orders.settle()
    dead = orders.s.cli_json("outbox", "list", "--state", "dead")
    messages = dead.get("messages", [])
    assert len(messages) == len(expected2.purchases), dead
    shown = orders.s.cli_json("outbox", "show", str(messages[0]["id"]))
    assert "401" in json.dumps(shown) or "403" in json.dumps(shown)

    fixed = orders.s.cli("integration", "update", "acme", "--bloomreach-secret", "sandbox-secret")
    assert fixed.returncode == 0, fixed.stderr
    orders.reload_relay_settings()
    replayed = orders.s.cli("outbox", "replay", "--all-dead")
    assert replayed.returncode == 0, replayed.stderr
    await orders.settle()
    assert (await orders.states()).get("dead", 0) == 0
    combined = type(expected)(
        **{**expected.__dict__, "purchases": expected.purchases + expected2.purchases,
           "skipped": expected.skipped + expected2.skipped}
    )  # fmt: skip
    await assert_landed_exactly(orders, combined)


async def test_prepared_commands_that_do_not_open_go_dead_untouched(orders: OrderStack) -> None:
    """Commands sealed under a key this installation does not hold (or moved from another
    order) are never rebuilt from the order, which could send Bloomreach something other than
    what it may already have: the message goes dead with the reason, its payload untouched."""
    foreign = SecretBox(MasterKey.parse(MasterKey.generate()))
    ((integration_id,),) = await orders.sql("SELECT id FROM integrations WHERE name = 'acme'")
    key = f"{ACCOUNT}:1:424242"
    prepared = {"order": {"order_id": 424242}, "commands": [{"name": "customers/events"}]}
    sealed = seal_commands(foreign, prepared, int(integration_id), key)
    # Base64url and JSON only (no quote to escape), numbers formatted by us.
    await orders.sql_exec(
        "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state, attempts,"  # noqa: S608
        " available_at, created_at, updated_at, generation)"
        f" VALUES ({int(integration_id)}, '{key}', 'order', '{json.dumps(sealed)}', 'pending',"
        " 0, 0, 0, 0, 0)"
    )
    await orders.settle()
    ((state, error, stored),) = await orders.sql(
        f"SELECT state, last_error, payload FROM outbox_messages WHERE order_key = '{key}'"  # noqa: S608
    )
    assert state == "dead"
    assert "prepared commands unreadable" in error
    assert foreign.key_id in error
    assert (json.loads(stored) if isinstance(stored, str) else stored) == sealed
    assert (await orders.bloomreach_stats())["events"] == 0  # nothing was sent


async def test_malformed_batches_are_quarantined(orders: OrderStack) -> None:
    user, password = orders.webhook
    auth = aiohttp.encode_basic_auth(user, password)
    url = f"{orders.s.edge_url}/sitoo/acme/events"
    bad = b'[{"event_id": "x", "event_type": "order", "data": {}}]'
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=bad, headers={"Authorization": auth}) as response:
            assert response.status == 400
        async with session.post(url, data=b"[]", headers={"Authorization": auth}) as response:
            assert response.status == 400
        async with session.post(url, data=bad) as response:
            assert response.status == 401
        ignored = [
            {"event_id": "a" * 32, "event_type": "z-report", "event_date": 1,
             "account_id": 1500, "data": {"anything": 1}}
        ]  # fmt: skip
        for _ in range(2):
            async with session.post(url, json=ignored, headers={"Authorization": auth}) as r:
                assert r.status == 200
    listed = orders.s.cli_json("quarantine", "list")
    payloads = listed.get("payloads", listed.get("items", []))
    assert len(payloads) == 2, listed
    shown = orders.s.cli("quarantine", "show", str(payloads[-1]["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "event_date" in shown.stdout and bad.decode() in shown.stdout
    inbox = await orders.sql("SELECT outcome FROM inbox_events")
    assert [row[0] for row in inbox] == ["ignored"]
    assert await orders.states() == {}


async def _relay_metric(url: str, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    return sample_value(text, name, **labels) or 0.0


async def test_relay_rides_out_timeouts_and_sitoo_429_and_alerts_on_credentials(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    env = {
        **service_env,
        "SITOO_BR_RELAY_METRICS_LISTEN": metrics,
        # A retry budget (~15 s) that outlasts the Bloomreach timeouts below (3 s each).
        "SITOO_BR_RELAY_RETRY_SCHEDULE": json.dumps([0.0] + [0.5] * 30),
    }
    with order_stack(database_url, env, tmp_path / "logs") as o:
        url = f"http://{metrics}/metrics"
        # No refunds: the driver itself reads original orders from Sitoo, and the 429s are
        # meant for the relay.
        config = day(41, sales=8, refunds=0)
        await seed_customers(o, config)
        # Bloomreach slower than the relay's 3 s HTTP timeout, Sitoo rate limiting every order
        # look-up at first: each fault is lifted once the relay has met it (deterministic, not
        # left to chance), and nothing may be given up meanwhile.
        await o.faults(o.bloomreach_url, {"batch": {"latency_ms": 4000}})
        await o.faults(
            o.sitoo_url,
            {"get_order": {"error_rate": 1.0, "error_status": 429, "retry_after_s": 0.2}},
        )
        expected = await play_day(o, config, seed=7)
        errors = "core_upstream_errors_total"

        async def sitoo_limited() -> bool:
            return await _relay_metric(url, errors, upstream="sitoo") > 0

        async def bloomreach_timed_out() -> bool:
            return (
                await _relay_metric(
                    url, errors, upstream="bloomreach", error_class="BloomreachTimeout"
                )
                > 0
            )

        await eventually(sitoo_limited, description="a Sitoo 429 met")
        await o.faults(o.sitoo_url, {})
        await eventually(bloomreach_timed_out, description="a Bloomreach timeout met")
        assert (await o.states()).get("dead", 0) == 0
        await o.faults(o.bloomreach_url, {})
        await o.settle()
        await assert_landed_exactly(o, expected)

        # Broken credentials raise the alert counter for the integration.
        alert = "core_upstream_credentials_rejected_total"
        assert await _relay_metric(url, alert, upstream="bloomreach", integration="acme") == 0
        wrong = o.s.cli("integration", "update", "acme", "--bloomreach-secret", "wrong")
        assert wrong.returncode == 0, wrong.stderr
        o.reload_relay_settings()
        second = day(42, sales=2, refunds=0)
        await seed_customers(o, second)
        await play_day(o, second, seed=8)
        await o.settle()
        assert await _relay_metric(url, alert, upstream="bloomreach", integration="acme") >= 1
