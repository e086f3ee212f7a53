"""Customer writes while Bloomreach is unavailable (issue 15 §2), through real processes: a
POS on the edge, the core, relays and the Bloomreach emulator answering 503.

Creates and updates still answer 200 with the card the customer will have; reads show them
(read your writes); once Bloomreach is back the relay delivers them in order, and Bloomreach
then holds what the live path stores for the same writes, exactly once even when relays are
killed mid-delivery. A queued write Bloomreach refuses goes dead with its reason and the
alert metric."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edge.spi_contract import CARD_CACHE_HEADER as CACHE_HEADER
from harness.metrics import sample_value
from harness.order_stack import TOKEN, OrderStack, order_stack
from harness.processes import free_port
from sandbox.bloomreach.testing import BR
from tests.support.eventually import eventually

pytestmark = pytest.mark.slow

DOWN = {
    "attributes": {"error_rate": 1.0, "error_status": 503},
    "batch": {"error_rate": 1.0, "error_status": 503},
}
# The relay keeps retrying through the whole outage (~100 s of budget), never gives up.
RELAY_SCHEDULE = json.dumps([0.0] + [0.5] * 200)


@pytest.fixture
def orders(database_url: str, service_env: dict[str, str], tmp_path: Path) -> Iterator[OrderStack]:
    env = {
        **service_env,
        "SITOO_BR_RELAY_RETRY_SCHEDULE": RELAY_SCHEDULE,
        "SITOO_BR_RELAY_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
    }
    with order_stack(database_url, env, tmp_path / "logs") as o:
        yield o


def email() -> str:
    return f"kund-{uuid.uuid4().hex[:10]}@example.se"


def mobile(address: str) -> str:
    """A Swedish mobile number of the customer's own (a soft ID moves to whoever takes it)."""
    return "+4670" + str(int(uuid.uuid5(uuid.NAMESPACE_URL, address).hex[:12], 16))[-7:]


def new_customer(address: str) -> dict[str, Any]:
    return {
        "email": address,
        "name_first": "Anna",
        "name_last": "Svensson",
        "mobile": mobile(address),
        "invoice_address": {"city": "Göteborg", "zip": "41101", "country_id": "se"},
        "consents": ["newsletter"],
        "accepts_communication": ["email"],
    }


FIRST_UPDATE = {"invoice_address": {"city": "Lund"}, "consents": ["newsletter", "sms"]}
SECOND_UPDATE = {"invoice_address": {"city": "Malmö"}, "name_last": "Berg", "consents": ["sms"]}


def anonymised(value: Any, address: str) -> Any:
    """``value`` with the customer's e-mail and phone replaced, to compare two customers."""
    text = json.dumps(value).replace(address, "EMAIL").replace(mobile(address), "PHONE")
    return json.loads(text)


async def profile(br: BR, address: str) -> dict[str, Any]:
    """What Bloomreach holds of the customer, without the moments things happened."""
    [found] = await br.customers(registered=address)
    events = sorted(
        json.dumps({k: v for k, v in e["properties"].items() if k != "timestamp"}, sort_keys=True)
        for e in found["events"]
    )
    held: dict[str, Any] = anonymised(
        {
            "ids": found["ids"],
            "properties": found["properties"],
            "consents": {
                c: (v["valid"], v["action"], v["valid_until"]) for c, v in found["consents"].items()
            },
            "events": events,
        },
        address,
    )
    return held


async def relay_metric(o: OrderStack, name: str, **labels: str) -> float:
    url = f"http://{o.s.env['SITOO_BR_RELAY_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return sample_value(await response.text(), name, **labels) or 0.0


async def test_writes_while_bloomreach_is_down_land_as_the_live_path_would(
    orders: OrderStack,
) -> None:
    live, queued, stranger = email(), email(), email()
    async with orders.pos() as pos, aiohttp.ClientSession() as session:
        br = BR(session, orders.bloomreach_url, TOKEN)
        # The live path: what Bloomreach should end up holding.
        answers = [(await pos.create(new_customer(live))).body]
        for changes in (FIRST_UPDATE, SECOND_UPDATE):
            answers.append((await pos.update(live, changes)).body)
        # A customer Bloomreach knows and this core never answered (no card to plan on).
        assert (await br.update({"registered": stranger}, {"first_name": "Eva"})).status == 200

        await orders.faults(orders.bloomreach_url, DOWN)
        assert (await pos.search("email", email())).status == 503  # reads are not queued
        created = await pos.create(new_customer(queued))
        assert created.status == 200, created.body
        assert anonymised(created.body, queued) == anonymised(answers[0], live)
        # Read your writes at the till, Bloomreach still down.
        assert (await pos.get(queued)).body == created.body
        found = await pos.search("email", queued)
        assert found.status == 200 and found.body == [created.body]
        for changes, answer in zip((FIRST_UPDATE, SECOND_UPDATE), answers[1:], strict=True):
            updated = await pos.update(queued, changes)
            assert updated.status == 200, updated.body
            assert anonymised(updated.body, queued) == anonymised(answer, live)
        assert (await pos.get(queued)).body == updated.body
        # Known here only as queued: a second create is refused, as a live one would be.
        assert (await pos.create(new_customer(queued))).status == 400
        # An update with nothing to plan on stays 503 (the till retries later).
        blind = await pos.update(stranger, {"name_first": "Eva-Lena"})
        assert blind.status == 503, blind.body
        assert (await orders.states()).get("dead", 0) == 0
        assert [row[0] for row in await orders.sql("SELECT kind FROM outbox_messages")] == [
            "customer"
        ]

        # Reads back, writes still failing: the card is still the one the till saved, from
        # the card cache, and both reads say so.
        await orders.faults(orders.bloomreach_url, {"batch": DOWN["batch"]})
        for read in (await pos.search("email", queued), await pos.get(queued)):
            assert read.status == 200, read.body
            assert read.body in (updated.body, [updated.body])
            assert read.headers.get(CACHE_HEADER, "").startswith("hit; age="), read.headers

        await orders.faults(orders.bloomreach_url, {})
        await orders.settle()
        assert await orders.states() == {"delivered": 1}
        assert await profile(br, queued) == await profile(br, live)
        # Delivered: reads come from Bloomreach again, and show the same card.
        assert (await pos.get(queued)).body == updated.body


async def test_kill_9_of_the_relay_while_queued_writes_drain_delivers_exactly_once(
    orders: OrderStack,
) -> None:
    customers = [email() for _ in range(8)]
    async with orders.pos() as pos, aiohttp.ClientSession() as session:
        br = BR(session, orders.bloomreach_url, TOKEN)
        await orders.faults(orders.bloomreach_url, DOWN)
        for address in customers:
            assert (await pos.create(new_customer(address))).status == 200
        for changes in (FIRST_UPDATE, SECOND_UPDATE):
            for address in customers:
                assert (await pos.update(address, changes)).status == 200
        # Bloomreach back, slow and sometimes losing its answer after storing: kills land
        # inside deliveries, and some deliveries must be repeated.
        await orders.faults(
            orders.bloomreach_url,
            {"batch": {"latency_ms": 40, "error_after_commit_rate": 0.2, "error_status": 503}},
        )
        rng = random.Random(3)
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            for relay in orders.relays:
                relay.kill()
            await asyncio.to_thread(orders.start_relay)
        await orders.faults(orders.bloomreach_url, {})
        await orders.settle()
        assert (await orders.states()).get("dead", 0) == 0
        stats = await br.stats()
        # 8 customers x (create: 2 consent events, update 1: sms accepted, update 2:
        # newsletter withdrawn) = 32 consent events, each stored once.
        consent_events = [e for e in await br.events("consent")]
        assert len(consent_events) == 32, stats
        for address in customers:
            [found] = await br.customers(registered=address)
            assert found["properties"]["city"] == "Malmö"
            assert found["properties"]["last_name"] == "Berg"
            assert {c: v["valid"] for c, v in found["consents"].items()} == {
                "newsletter": False,
                "sms": True,
            }


async def test_a_queued_write_bloomreach_refuses_goes_dead_with_its_reason(
    orders: OrderStack,
) -> None:
    # A consent whose category Bloomreach does not have: Bloomreach refuses the command, which
    # a live create reports as 502 upstream-rejected.
    changed = orders.s.cli(
        "integration", "update", "acme",
        "--consent", "newsletter=newsletter,label=Newsletter",
        "--consent", "sms=sms,label=SMS offers",
        "--consent", "club=loyalty_club,label=Club",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    with_club = {"consents": ["newsletter", "club"]}
    async with orders.pos() as pos:

        async def live_refusal() -> int:
            return (await pos.create({**new_customer(email()), **with_club})).status

        assert await eventually(live_refusal, lambda status: status != 200) == 502
        dead = "core_customer_commands_dead_total"
        assert await relay_metric(orders, dead, integration="acme") == 0

        await orders.faults(orders.bloomreach_url, DOWN)
        queued = await pos.create({**new_customer(email()), **with_club})
        assert queued.status == 200, queued.body
        assert queued.body["consents"] == ["newsletter", "club"]
        await orders.faults(orders.bloomreach_url, {})
        await orders.settle()
        assert await orders.states() == {"dead": 1}
        [(error,)] = await orders.sql("SELECT last_error FROM outbox_messages")
        assert "Bloomreach refused queued commands" in error
        assert "Unknown consent category" in error
        assert await relay_metric(orders, dead, integration="acme") == 1
        listed = orders.s.cli_json("outbox", "list", "--state", "dead")["messages"]
        assert [m["kind"] for m in listed] == ["customer"]
