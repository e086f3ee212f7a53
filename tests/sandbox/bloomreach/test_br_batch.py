"""Batch commands: per-command results in order, command_id, whole-batch errors, limits."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bloomreach import ApiKey, BloomreachConfig, ProjectConfig
from sandbox.bloomreach.testing import BR
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}


def cmd_customer(
    cid: str,
    ids: dict[str, Any] = IDS,
    props: dict[str, Any] | None = None,
    ts: float | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"customer_ids": ids, "properties": props or {"first_name": "Anna"}}
    if ts is not None:
        data["update_timestamp"] = ts
    return {"name": "customers", "command_id": cid, "data": data}


def cmd_event(
    cid: str,
    event_type: str = "purchase",
    props: dict[str, Any] | None = None,
    ids: dict[str, Any] = IDS,
    ts: float | str | None = 1709566376,
) -> dict[str, Any]:
    return {
        "name": "customers/events",
        "command_id": cid,
        "data": {
            "customer_ids": ids,
            "event_type": event_type,
            "timestamp": ts,
            "properties": props or {"purchase_id": cid},
        },
    }


async def test_batch_results_follow_command_order_and_echo_command_id(br: BR) -> None:
    reply = await br.track(
        "batch",
        {
            "sdk": "magento-plugin",
            "sdk_version": "v1.2.0",
            "commands": [
                cmd_customer("q-101"),
                cmd_event("q-102", ids={}),
                {"name": "system/time"},
                cmd_event("q-104"),
                {"name": "system/time", "command_id": "t"},
                {"name": "catalogs", "command_id": "q-106", "data": {}},
                {"name": "customers", "command_id": 7},
                "nonsense",
            ],
        },
    )
    assert reply.status == 200
    body = reply.body
    assert body["success"] is True
    assert body["start_time"] <= body["end_time"]
    results = body["results"]
    assert len(results) == 8
    assert results[0] == {"success": True, "command_id": "q-101"}
    assert results[1] == {
        "success": False,
        "errors": ["At least one id should be specified."],
        "command_id": "q-102",
    }
    assert results[2]["success"] is True and isinstance(results[2]["time"], float)
    assert "command_id" not in results[2]
    assert results[3] == {"success": True, "command_id": "q-104"}
    assert results[4]["command_id"] == "t" and "time" in results[4]
    assert results[5] == {
        "success": False,
        "errors": ["Unknown command name"],
        "command_id": "q-106",
    }
    assert results[6]["success"] is False and results[6]["command_id"] == 7
    assert results[7] == {"success": False, "errors": ["Invalid command"]}
    [customer] = await br.customers()
    assert customer["properties"] == {"first_name": "Anna"}
    assert [e["properties"]["purchase_id"] for e in customer["events"]] == ["q-104"]


@pytest.mark.parametrize("body", [{}, {"commands": []}, {"commands": None}, {"commands": {}}])
async def test_no_commands_is_400(br: BR, body: dict[str, Any]) -> None:
    reply = await br.track("batch", body)
    assert reply.status == 400
    assert reply.body == {"success": False, "message": "No commands"}


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe"])
async def test_invalid_json_is_400(br: BR, raw: bytes) -> None:
    reply = await br.track("batch", raw=raw)
    assert reply.status == 400
    assert reply.body == {"success": False, "message": "Invalid JSON"}


async def test_51_commands_is_a_whole_batch_400_and_nothing_stored(br: BR) -> None:
    commands = [cmd_event(f"c{i}") for i in range(51)]
    reply = await br.track("batch", {"commands": commands})
    assert reply.status == 400
    assert reply.body == {"success": False, "message": "Too many commands (limit 50)"}
    assert await br.events() == []
    reply = await br.track("batch", {"commands": commands[:50]})
    assert reply.status == 200
    assert all(r["success"] for r in reply.body["results"])
    assert len(await br.events()) == 50


async def test_batch_command_over_800kb_fails_alone(br: BR) -> None:
    big = {f"p{i}": "x" * 10_000 for i in range(85)}
    reply = await br.track(
        "batch", {"commands": [cmd_customer("big", props=big), cmd_customer("small")]}
    )
    assert reply.status == 200
    assert reply.body["results"] == [
        {"success": False, "errors": ["Message is too large (limit 800 KB)"], "command_id": "big"},
        {"success": True, "command_id": "small"},
    ]


async def test_batch_ordering_comes_only_from_timestamps(start: Starter) -> None:
    # shuffled execution must not matter when update_timestamp orders the writes
    for seed in range(5):
        br = await start(seed=seed)
        commands = [
            cmd_customer(f"u{ts}", props={"tier": f"t{ts}"}, ts=ts) for ts in (3, 1, 5, 2, 4)
        ]
        reply = await br.track("batch", {"commands": commands})
        assert [r["command_id"] for r in reply.body["results"]] == [
            c["command_id"] for c in commands
        ]
        [customer] = await br.customers()
        assert customer["properties"] == {"tier": "t5"}


async def test_batch_per_command_validation_errors_and_limits(br: BR) -> None:
    reply = await br.track(
        "batch",
        {
            "commands": [
                cmd_event("many", props={f"p{i}": i for i in range(256)}),
                cmd_event("huge", props={"v": "x" * 17_000}),
                {"name": "customers/events", "command_id": "nodata"},
                cmd_event("ok"),
            ]
        },
    )
    results = reply.body["results"]
    assert results[0]["errors"] == ["Too many properties (limit 255)"]
    assert results[1]["errors"] == ["Property value is too large (limit 16 KB): v"]
    assert results[2] == {"success": False, "errors": ["Invalid command"], "command_id": "nodata"}
    assert results[3] == {"success": True, "command_id": "ok"}


async def test_batch_unknown_project_and_auth(br: BR) -> None:
    reply = await br.track("batch", {"commands": [cmd_event("a")]}, auth=None)
    assert reply.status == 401
    br.token = "nope"
    reply = await br.track("batch", {"commands": [cmd_event("a")]})
    assert reply.status == 400
    assert reply.body["error"] == "Could not authenticate"


async def test_conflicting_hard_ids_fail_the_command(start: Starter) -> None:
    config = BloomreachConfig(
        projects={"p": ProjectConfig("p", hard_ids=("registered", "customer_id"))},
        api_keys=(ApiKey("k", "s"),),
        seed=1,
    )
    br = await start(config)
    from sandbox.bloomreach.testing import basic

    auth = basic("k", "s")
    await br.update({"registered": "a", "customer_id": "1"}, {"n": 1}, auth=auth)
    reply = await br.track(
        "batch",
        {"commands": [cmd_customer("x", ids={"registered": "a", "customer_id": "2"})]},
        auth=auth,
    )
    assert reply.body["results"][0]["success"] is False
    assert reply.body["results"][0]["errors"] == [
        "Customer ids conflict with the existing hard ids"
    ]
    [customer] = await br.customers()
    assert customer["ids"] == {"registered": "a", "customer_id": "1"}
