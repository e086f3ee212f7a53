"""Tracking semantics: ids, upsert/merge, update_timestamp, dedupe, validation and limits."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.bloomreach.testing import BR
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}


async def test_system_time(br: BR) -> None:
    before = time.time()
    reply = await br.request("GET", f"/track/v2/projects/{br.token}/system/time")
    assert reply.status == 200
    assert reply.body["success"] is True and reply.body["errors"] == []
    assert isinstance(reply.body["time"], float) and reply.body["time"] >= before - 1


async def test_update_creates_customer_and_answers_success(br: BR) -> None:
    reply = await br.update(IDS, {"first_name": "Anna"}, ts=100)
    assert reply.status == 200
    assert reply.body == {"success": True, "errors": []}
    [customer] = await br.customers()
    assert customer["ids"] == IDS
    assert customer["properties"] == {"first_name": "Anna"}
    assert customer["property_timestamps"] == {"first_name": 100}


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ({}, "At least one id should be specified."),
        (None, "At least one id should be specified."),
        ({"registered": None}, "At least one valid id should be specified"),
        ({"registered": "undefined"}, "At least one valid id should be specified"),
        ({"registered": "null"}, "At least one valid id should be specified"),
        ({"registered": "@.-"}, "At least one valid id should be specified"),
        ({"no_such_id": "x"}, "Invalid customer_id"),
    ],
)
async def test_customer_ids_validation_messages(br: BR, ids: dict[str, Any], message: str) -> None:
    reply = await br.update(ids, {"a": 1})
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": [message]}
    reply = await br.event(ids, "purchase", {"a": 1})
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": [message]}
    assert await br.customers() == []


async def test_validation_status_switchable_to_200(start: Starter) -> None:
    br = await start(validation_error_status=200)
    reply = await br.update({}, {"a": 1})
    assert reply.status == 200
    assert reply.body == {"success": False, "errors": ["At least one id should be specified."]}


async def test_invalid_values_are_ignored_when_one_id_is_valid(br: BR) -> None:
    reply = await br.update({"registered": "a1", "cookie": "undefined"}, {"a": 1})
    assert reply.body["success"] is True
    [customer] = await br.customers()
    assert customer["ids"] == {"registered": "a1"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"customer_ids": IDS}, "At least one property should be specified"),
        ({"customer_ids": IDS, "properties": {}}, "At least one property should be specified"),
        ({"customer_ids": IDS, "properties": [1]}, "Invalid properties"),
        ({"customer_ids": IDS, "properties": {"nämn": 1}}, "Property names must be ASCII"),
        (
            {"customer_ids": IDS, "properties": {"a": 1}, "update_timestamp": "x"},
            "Invalid timestamp",
        ),
    ],
)
async def test_customer_body_validation(br: BR, body: dict[str, Any], message: str) -> None:
    reply = await br.track("customers", body)
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": [message]}


async def test_invalid_json_on_single_endpoint(br: BR) -> None:
    reply = await br.track("customers", raw=b"{not json")
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": ["Invalid JSON"]}
    reply = await br.track("customers", [1, 2])
    assert reply.status == 400


async def test_event_validation(br: BR) -> None:
    reply = await br.track("customers/events", {"customer_ids": IDS, "properties": {"a": 1}})
    assert reply.status == 400
    assert reply.body["errors"] == ["Invalid event_type"]
    reply = await br.event(IDS, "purchase", {})
    assert reply.body["errors"] == ["At least one property should be specified"]
    reply = await br.track(
        "customers/events",
        {
            "customer_ids": IDS,
            "event_type": "purchase",
            "timestamp": "2024-03-04T10:00:00",
            "properties": {"a": 1},
        },
    )
    assert reply.body["errors"] == ["Invalid timestamp"]
    assert await br.events() == []


async def test_hard_ids_are_case_sensitive(br: BR) -> None:
    await br.update({"registered": "Anna@x.com"}, {"n": 1})
    await br.update({"registered": "anna@x.com"}, {"n": 2})
    customers = await br.customers()
    assert sorted(c["ids"]["registered"] for c in customers) == ["Anna@x.com", "anna@x.com"]
    [upper] = await br.customers(registered="Anna@x.com")
    assert upper["properties"] == {"n": 1}


async def test_soft_id_of_another_hard_id_moves_instead_of_merging(br: BR) -> None:
    await br.update({"registered": "a"}, {"n": 1})
    await br.update({"registered": "b", "cookie": "c1"}, {"n": 2})
    # cookie c1 belongs to b; a call with registered=a and cookie=c1 moves the cookie, no merge
    reply = await br.update({"registered": "a", "cookie": "c1"}, {"n": 3})
    assert reply.body["success"] is True
    customers = {c["ids"]["registered"]: c for c in await br.customers()}
    assert set(customers) == {"a", "b"}
    assert customers["a"]["ids"]["cookie"] == ["c1"]
    assert "cookie" not in customers["b"]["ids"]
    stats = await br.stats()
    assert stats["soft_id_values_moved"] == 1 and stats["customers_merged"] == 0


async def test_soft_id_cap_evicts_least_recently_used(br: BR) -> None:
    ids = {"registered": "anna"}
    for i in range(64):
        reply = await br.update({**ids, "cookie": f"c{i:02d}"}, {"n": i})
        assert reply.body["success"] is True
    # touch c00 so that c01 becomes the least recently used value
    await br.update({"cookie": "c00"}, {"n": 100})
    [customer] = await br.customers()
    assert len(customer["ids"]["cookie"]) == 64
    await br.update({**ids, "cookie": "c64"}, {"n": 64})
    [customer] = await br.customers()
    cookies = customer["ids"]["cookie"]
    assert len(cookies) == 64
    assert "c01" not in cookies
    assert "c00" in cookies and cookies[-1] == "c64"
    assert await br.customers(cookie="c01") == []
    assert (await br.stats())["soft_id_values_evicted"] == 1
    # the evicted value now identifies nobody: tracking with it creates a new customer
    await br.update({"cookie": "c01"}, {"n": 1})
    assert len(await br.customers()) == 2


async def test_65th_value_evicts_the_oldest(br: BR) -> None:
    for i in range(65):
        await br.update({"registered": "r", "phone_id": f"+4670{i:04d}"}, {"n": i})
    [customer] = await br.customers()
    phones = customer["ids"]["phone_id"]
    assert len(phones) == 64
    assert phones[0] == "+46700001"
    assert "+46700000" not in phones


async def test_tracking_unknown_ids_creates_customer_and_known_soft_id_reuses_it(br: BR) -> None:
    await br.update({"cookie": "c1"}, {"visits": 1})
    await br.event({"cookie": "c1"}, "view", {"p": 1}, ts=10)
    customers = await br.customers()
    assert len(customers) == 1
    assert customers[0]["events"] == [{"type": "view", "timestamp": 10.0, "properties": {"p": 1}}]


async def test_ids_resolving_to_two_customers_merge(br: BR) -> None:
    await br.update({"cookie": "anon"}, {"seen": "web"}, ts=10)
    await br.event({"cookie": "anon"}, "view", {"p": 1}, ts=11)
    await br.update({"registered": "anna"}, {"first_name": "Anna"}, ts=20)
    await br.event({"registered": "anna"}, "purchase", {"p": 2}, ts=21)
    assert len(await br.customers()) == 2
    reply = await br.update({"registered": "anna", "cookie": "anon"}, {"login": True}, ts=30)
    assert reply.body["success"] is True
    [customer] = await br.customers()
    assert customer["ids"] == {"registered": "anna", "cookie": ["anon"]}
    assert customer["properties"] == {"seen": "web", "first_name": "Anna", "login": True}
    assert [e["type"] for e in customer["events"]] == ["view", "purchase"]
    assert (await br.stats())["customers_merged"] == 1
    # both old ids now resolve to the merged customer
    assert (await br.customers(cookie="anon"))[0]["internal_id"] == customer["internal_id"]


async def test_update_timestamp_older_update_does_not_overwrite(br: BR) -> None:
    await br.update(IDS, {"first_name": "New", "city": "Oslo"}, ts=200)
    await br.update(IDS, {"first_name": "Old", "phone": "1"}, ts=100)
    [customer] = await br.customers()
    assert customer["properties"] == {"first_name": "New", "city": "Oslo", "phone": "1"}
    assert customer["property_timestamps"]["first_name"] == 200
    assert (await br.stats())["stale_property_updates_ignored"] == 1
    await br.update(IDS, {"first_name": "Newest"}, ts=300)
    [customer] = await br.customers()
    assert customer["properties"]["first_name"] == "Newest"


async def test_missing_update_timestamp_uses_receive_time(br: BR) -> None:
    await br.update(IDS, {"first_name": "Future"}, ts=time.time() + 3600)
    await br.update(IDS, {"first_name": "Now"})  # receive time is older than the stored one
    [customer] = await br.customers()
    assert customer["properties"]["first_name"] == "Future"
    await br.update(IDS, {"first_name": "Past"}, ts=1)
    await br.update(IDS, {"last_name": "X"})
    [customer] = await br.customers()
    assert customer["property_timestamps"]["last_name"] > 1_000_000_000


async def test_event_timestamp_defaults_to_server_time_and_keeps_floats(br: BR) -> None:
    before = time.time()
    await br.event(IDS, "visit", {"a": 1})
    await br.event(IDS, "visit", {"a": 2}, ts=1533495544.343536)
    await br.event(IDS, "visit", {"a": 3}, ts=1533495544343)  # milliseconds: stored as sent
    events = await br.events("visit")
    assert events[0]["timestamp"] >= before - 1
    assert events[1]["timestamp"] == 1533495544.343536
    assert events[2]["timestamp"] == 1533495544343.0


async def test_exact_duplicate_events_are_stored_once_but_counted(br: BR) -> None:
    event = (IDS, "purchase", {"purchase_id": "S-1", "total_price": 10.5}, 1709566376)
    for _ in range(3):
        reply = await br.event(*event)
        assert reply.body == {"success": True, "errors": []}
    # int and float timestamps of the same instant are the same event
    await br.event(IDS, "purchase", {"purchase_id": "S-1", "total_price": 10.5}, 1709566376.0)
    # any difference makes a new event
    await br.event(IDS, "purchase", {"purchase_id": "S-1", "total_price": 10.6}, 1709566376)
    await br.event(IDS, "purchase", {"purchase_id": "S-1", "total_price": 10.5}, 1709566377)
    await br.event(
        {**IDS, "cookie": "c"}, "purchase", {"purchase_id": "S-1", "total_price": 10.5}, 1709566376
    )
    assert len(await br.events("purchase")) == 4
    stats = await br.stats()
    assert stats["events_received"] == 7
    assert stats["events_stored"] == 4
    assert stats["events_duplicate_dropped"] == 3


async def test_message_over_800kb_is_refused(br: BR) -> None:
    big = {f"p{i}": "x" * 10_000 for i in range(85)}  # ~850 KB, each value < 16 KB
    reply = await br.update(IDS, big)
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": ["Message is too large (limit 800 KB)"]}
    assert await br.customers() == []


async def test_property_value_of_16kb_is_refused(br: BR) -> None:
    reply = await br.event(IDS, "purchase", {"note": "y" * (16 * 1024)})
    assert reply.status == 400
    assert reply.body["errors"] == ["Property value is too large (limit 16 KB): note"]
    reply = await br.event(IDS, "purchase", {"items": ["z" * 20_000]})
    assert reply.status == 400
    reply = await br.event(IDS, "purchase", {"note": "ä" * 8200})  # 16,400 bytes in UTF-8
    assert reply.status == 400
    ok = await br.event(IDS, "purchase", {"note": "y" * (16 * 1024 - 1)})
    assert ok.body["success"] is True
    assert len(await br.events()) == 1


async def test_more_than_255_event_properties_is_refused(br: BR) -> None:
    reply = await br.event(IDS, "purchase", {f"p{i}": i for i in range(256)})
    assert reply.status == 400
    assert reply.body["errors"] == ["Too many properties (limit 255)"]
    ok = await br.event(IDS, "purchase", {f"p{i}": i for i in range(255)})
    assert ok.body["success"] is True


async def test_project_customer_attribute_cap_drops_new_attributes(start: Starter) -> None:
    from sandbox.bloomreach import Limits

    br = await start(limits=Limits(max_customer_attributes=3))
    await br.update(IDS, {"a": 1, "b": 2, "c": 3})
    reply = await br.update(IDS, {"a": 10, "d": 4})
    assert reply.body["success"] is True
    [customer] = await br.customers()
    assert customer["properties"] == {"a": 10, "b": 2, "c": 3}
    assert (await br.stats())["customer_attributes_dropped"] == 1
