"""Sandbox-only endpoints (/_sandbox/...) and JSON-file persistence."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.bloomreach.persistence import load, save
from sandbox.bloomreach.state import STATE, EmulatorState
from sandbox.bloomreach.testing import BR
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}


async def test_sandbox_endpoints_need_no_auth_and_dump_state(br: BR) -> None:
    await br.update({**IDS, "cookie": "c1"}, {"first_name": "Anna"}, ts=5)
    await br.event(IDS, "purchase", {"purchase_id": "P1"}, ts=10)
    await br.event(IDS, "purchase_item", {"purchase_id": "P1"}, ts=10)
    await br.event(
        IDS,
        "consent",
        {"category": "newsletter", "action": "accept", "valid_until": "unlimited"},
        9,
    )
    [customer] = await br.customers(registered="anna@example.com")
    assert customer["internal_id"] == 1
    assert customer["ids"] == {"registered": "anna@example.com", "cookie": ["c1"]}
    assert customer["consents"]["newsletter"]["valid"] is True
    assert len(customer["events"]) == 3
    assert await br.customers(registered="nobody") == []
    events = await br.events("purchase")
    assert events == [
        {
            "internal_id": 1,
            "customer_ids": IDS,
            "type": "purchase",
            "timestamp": 10.0,
            "properties": {"purchase_id": "P1"},
        }
    ]
    assert [e["type"] for e in await br.events()] == ["purchase", "purchase_item", "consent"]
    stats = await br.stats()
    assert stats["customers"] == 1 and stats["events"] == 3
    totals = (await br.sandbox("GET", "stats")).body["totals"]
    assert totals["events_stored"] == 3


async def test_unknown_project_in_sandbox_is_404(br: BR) -> None:
    reply = await br.sandbox("GET", "projects/nope/customers")
    assert reply.status == 404


async def test_reset_forgets_everything(br: BR) -> None:
    await br.event(IDS, "purchase", {"a": 1}, ts=1)
    await br.event(IDS, "purchase", {"a": 1}, ts=1)
    assert (await br.stats())["events_duplicate_dropped"] == 1
    reply = await br.sandbox("POST", "reset")
    assert reply.body == {"success": True}
    assert await br.customers() == []
    stats = await br.stats()
    assert stats["events_duplicate_dropped"] == 0 and stats["events"] == 0
    # dedupe memory is gone too: the same event is stored again
    await br.event(IDS, "purchase", {"a": 1}, ts=1)
    assert len(await br.events()) == 1


async def test_save_without_state_file_is_400(br: BR) -> None:
    reply = await br.sandbox("POST", "save")
    assert reply.status == 400


async def test_state_file_round_trip(start: Starter, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    br = await start(state_file=path, save_interval_s=60)
    await br.update({**IDS, "phone_id": "+1"}, {"first_name": "Anna"}, ts=5)
    await br.event(IDS, "purchase", {"purchase_id": "P1"}, ts=10)
    await br.event(
        IDS,
        "consent",
        {"category": "newsletter", "action": "accept", "valid_until": "unlimited"},
        9,
    )
    await br.sandbox("PUT", f"projects/{br.token}/segmentations/s", {"default": "d"})
    assert (await br.sandbox("POST", "save")).status == 200
    saved = json.loads(path.read_text())
    assert saved["format"] == 1

    again = await start(state_file=path)
    [customer] = await again.customers()
    assert customer["ids"] == {"registered": "anna@example.com", "phone_id": ["+1"]}
    assert customer["properties"] == {"first_name": "Anna"}
    assert customer["consents"]["newsletter"]["valid"] is True
    # dedupe survives a restart
    await again.event(IDS, "purchase", {"purchase_id": "P1"}, ts=10)
    assert len(await again.events("purchase")) == 1
    assert (await again.stats())["events_duplicate_dropped"] == 1
    seg = await again.attributes(IDS, {"type": "segmentation", "id": "s"})
    assert seg.body["results"] == [{"success": True, "value": "d"}]
    # new customers get fresh internal ids
    await again.update({"registered": "b"}, {"x": 1})
    assert sorted(c["internal_id"] for c in await again.customers()) == [1, 2]


async def test_state_saved_on_shutdown(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    path = tmp_path / "s.json"
    config = BloomreachConfig.sandbox(state_file=path, save_interval_s=3600)
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    reply = await client.post(
        f"/track/v2/projects/{next(iter(config.projects))}/customers",
        json={"customer_ids": IDS, "properties": {"a": 1}},
        headers={"Authorization": "Basic c2FuZGJveC1rZXktaWQ6c2FuZGJveC1zZWNyZXQ="},
    )
    assert reply.status == 200
    assert not path.exists()
    await client.close()  # cleanup_ctx saves
    state = EmulatorState.build(config)
    load(state, path)
    [store] = state.projects.values()
    assert store.find(IDS) is not None
    save(state, path)  # a second save is atomic and leaves no temporary file
    # A test's own temporary directory: nothing else is waiting on the loop.
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # noqa: ASYNC240


async def test_app_exposes_state(br: BR) -> None:
    config = BloomreachConfig.sandbox()
    app = create_app(config)
    assert app[STATE].config is config


async def test_state_saved_periodically_after_writes(start: Starter, tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "p.json"
    br = await start(state_file=path, save_interval_s=0.02)
    await br.update(IDS, {"a": 1})
    for _ in range(500):
        if path.exists() and "anna@example.com" in path.read_text():
            break
        await asyncio.sleep(0.01)
    saved = json.loads(path.read_text())
    [project] = saved["projects"].values()
    assert project["customers"][0]["hard_ids"] == IDS


async def test_stats_count_the_api_requests_by_route_faulted_ones_too(br: BR) -> None:
    await br.update(IDS, {"first_name": "Anna"})
    await br.attributes(IDS, {"type": "id", "id": "registered"})
    await br.attributes(IDS, {"type": "id", "id": "registered"})
    faults = {"export_events": {"error_rate": 1.0, "error_status": 503}}
    assert (await br.sandbox("PUT", "faults", {"faults": faults})).status == 200
    refused = await br.data("customers/events", {"customer_ids": IDS, "event_types": ["x"]})
    assert refused.status == 503
    assert (await br.stats())["requests"] == {"customers": 1, "attributes": 2, "export_events": 1}
    # Sandbox calls are not API requests; a reset forgets the counts.
    await br.sandbox("POST", "reset")
    assert (await br.stats())["requests"] == {}
