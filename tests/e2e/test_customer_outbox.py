"""Customer messages through real processes: commands queued with
``enqueue_customer_commands`` (as issue 14's redemptions and issue 15's queued writes do) are
delivered by a running relay to the Bloomreach emulator in order, ride out a Bloomreach outage,
go dead with their reason and the alert metric when Bloomreach refuses them, and show in
``outbox list/show`` with their kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from core_service.adapters.db.customer_commands import enqueue_customer_commands
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.key_material import open_secret_box
from core_service.crypto import MasterKey, SecretBox
from harness.metrics import sample_value
from harness.order_stack import TOKEN, OrderStack, order_stack
from harness.processes import free_port
from tests.support.eventually import eventually

ANNA = "anna.queued@example.com"


async def enqueue(
    o: OrderStack, customer_id: str, commands: Sequence[dict[str, Any]], now: float
) -> int:
    """What another repository does inside its own transaction."""
    engine = create_engine(o.database_url)
    try:
        sessions = session_factory(engine)
        box = await open_secret_box(
            sessions, SecretBox(MasterKey.parse(o.s.env["SITOO_BR_MASTER_KEY"]))
        )
        async with sessions.begin() as session:
            integration_id = await session.scalar(
                text("SELECT id FROM integrations WHERE name = 'acme'")
            )
            return await enqueue_customer_commands(
                session,
                integration_id=int(integration_id),
                customer_id=customer_id,
                commands=commands,
                now=now,
                sealer=box,
            )
    finally:
        await engine.dispose()


def update(command_id: str, city: str, at: float) -> dict[str, Any]:
    return {
        "name": "customers",
        "command_id": command_id,
        "data": {
            "customer_ids": {"registered": ANNA},
            "properties": {"email": ANNA, "city": city},
            "update_timestamp": at,
        },
    }


def consent(command_id: str, category: str, at: float) -> dict[str, Any]:
    return {
        "name": "customers/events",
        "command_id": command_id,
        "data": {
            "customer_ids": {"registered": ANNA},
            "event_type": "consent",
            "timestamp": at,
            "properties": {
                "action": "accept",
                "category": category,
                "valid_until": "unlimited",
                "timestamp": at,
            },
        },
    }


async def customer(o: OrderStack) -> dict[str, Any] | None:
    found = await o.emulator(
        o.bloomreach_url, "GET", f"/_sandbox/projects/{TOKEN}/customers?registered={ANNA}"
    )
    customers: list[dict[str, Any]] = found["customers"]
    return customers[0] if customers else None


async def metric(url: str, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return sample_value(await response.text(), name, **labels) or 0.0


async def test_customer_commands_ride_out_an_outage_in_order_and_refusals_go_dead(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    env = {**service_env, "SITOO_BR_RELAY_METRICS_LISTEN": metrics}
    with order_stack(database_url, env, tmp_path / "logs") as o:
        url = f"http://{metrics}/metrics"
        dead = "core_customer_commands_dead_total"
        assert await metric(url, dead, integration="acme") == 0
        # Bloomreach down: the message is retried, never given up.
        await o.faults(o.bloomreach_url, {"batch": {"error_rate": 1.0, "error_status": 503}})
        first = await enqueue(o, ANNA, [update("w1-customer", "Lund", 100.0)], 100.0)
        errors = "core_upstream_errors_total"

        async def outage_met() -> bool:
            return await metric(url, errors, error_class="BloomreachUnavailable") > 0

        await eventually(outage_met, description="a Bloomreach 503 met by the relay")
        # A second write of the same customer joins the open message, after the first.
        second = await enqueue(
            o,
            ANNA,
            [update("w2-customer", "Malmö", 200.0), consent("w2-consent", "newsletter", 200.0)],
            200.0,
        )
        assert second == first
        assert (await o.states()).get("dead", 0) == 0
        # Operators see it as a customer message, keyed without the e-mail; show opens it.
        listed = o.s.cli_json("outbox", "list", "--integration", "acme")["messages"]
        assert [(m["kind"], m["state"] in ("pending", "in_flight")) for m in listed] == [
            ("customer", True)
        ]
        key = listed[0]["order_key"]
        assert key.startswith("c:") and ANNA not in key
        shown = o.s.cli("outbox", "show", str(first))
        assert shown.returncode == 0, shown.stderr
        assert "w2-consent" in shown.stdout and ANNA in shown.stdout

        await o.faults(o.bloomreach_url, {})
        await o.settle()
        assert await o.states() == {"delivered": 1}
        held = await customer(o)
        assert held is not None
        assert held["properties"]["city"] == "Malmö"
        assert held["consents"]["newsletter"]["valid"] is True

        # A command Bloomreach refuses: dead with the reason, counted for the alert.
        refused = await enqueue(o, ANNA, [consent("w3-consent", "no_such_category", 300.0)], 300.0)
        await o.settle()
        assert await o.states() == {"delivered": 1, "dead": 1}
        errors_by_id = dict(await o.sql("SELECT id, last_error FROM outbox_messages"))
        assert "w3-consent: Unknown consent category" in errors_by_id[refused]
        assert await metric(url, dead, integration="acme") == 1
