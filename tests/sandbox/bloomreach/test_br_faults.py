"""Rate limiting and injected faults (sandbox.faults mounted on the emulator)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from sandbox.bloomreach import ROUTE_NAMES
from sandbox.bloomreach.testing import BR, Reply
from sandbox.faults import Fault
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}


async def test_rate_limit_429_drops_the_data(start: Starter) -> None:
    br = await start(requests_per_second=1)
    outcomes = {}
    for i in range(40):
        reply = await br.update({"registered": f"r{i}"}, {"n": i})
        outcomes[f"r{i}"] = reply
        if reply.status == 429:
            break
    limited = [k for k, r in outcomes.items() if r.status == 429]
    assert limited, "the limiter never answered 429"
    reply = outcomes[limited[0]]
    assert reply.body == {"success": False, "error": "Too many requests"}
    assert reply.headers.get("x-request-id")
    stored = {c["ids"]["registered"] for c in await br.customers()}
    assert limited[0] not in stored
    assert stored == {k for k, r in outcomes.items() if r.status == 200}
    faults = await br.sandbox("GET", "faults")
    assert faults.body["counters"]["rate_limited"] >= 1


async def test_rate_limited_batch_stores_nothing(start: Starter) -> None:
    br = await start(requests_per_second=1)
    statuses = []
    for i in range(40):
        reply = await br.track(
            "batch",
            {
                "commands": [
                    {
                        "name": "customers/events",
                        "command_id": f"b{i}",
                        "data": {
                            "customer_ids": IDS,
                            "event_type": "purchase",
                            "timestamp": i,
                            "properties": {"batch": i},
                        },
                    }
                ]
            },
        )
        statuses.append(reply.status)
        if reply.status == 429:
            break
    assert statuses[-1] == 429
    stored = [e["properties"]["batch"] for e in await br.events()]
    assert stored == [i for i, s in enumerate(statuses) if s == 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_error_rate_with_status_does_not_store(start: Starter, status: int) -> None:
    br = await start(faults={"customers": Fault(error_rate=1.0, error_status=status)})
    reply = await br.update(IDS, {"a": 1})
    assert reply.status == status
    assert reply.body == {"success": False, "error": "Injected fault"}
    assert await br.customers() == []
    # other endpoints are untouched
    ok = await br.event(IDS, "purchase", {"a": 1})
    assert ok.status == 200


async def test_retry_after_header_on_injected_error(start: Starter) -> None:
    br = await start(faults={"batch": Fault(error_rate=1.0, error_status=429, retry_after_s=2)})
    reply = await br.track("batch", {"commands": [{"name": "system/time"}]})
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "2"


async def test_latency_fault_delays_the_answer(start: Starter) -> None:
    br = await start(faults={"system_time": Fault(latency_ms=500)})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await br.request("GET", f"/track/v2/projects/{br.token}/system/time")
    # the endpoint without a fault answers
    reply = await br.update(IDS, {"a": 1})
    assert reply.status == 200


async def test_small_latency_still_succeeds(start: Starter) -> None:
    br = await start(faults={"customers": Fault(latency_ms=20)})
    reply = await br.update(IDS, {"a": 1})
    assert reply.status == 200
    assert len(await br.customers()) == 1


async def test_drop_connection(start: Starter) -> None:
    br = await start(faults={"events": Fault(drop_rate=1.0)})
    with pytest.raises(aiohttp.ClientError):
        await br.event(IDS, "purchase", {"a": 1})
    assert await br.events() == []
    faults = await br.sandbox("GET", "faults")
    assert faults.body["counters"]["dropped"] == 1


async def test_error_after_commit_stores_the_data(start: Starter) -> None:
    br = await start(faults={"batch": Fault(error_after_commit_rate=1.0, error_status=502)})
    reply = await br.track(
        "batch",
        {
            "commands": [
                {
                    "name": "customers/events",
                    "command_id": "x",
                    "data": {
                        "customer_ids": IDS,
                        "event_type": "purchase",
                        "timestamp": 5,
                        "properties": {"purchase_id": "P"},
                    },
                }
            ]
        },
    )
    assert reply.status == 502
    assert reply.body == {"success": False, "error": "Injected fault after commit"}
    assert len(await br.events("purchase")) == 1  # the effect happened


async def test_faults_at_runtime_and_wildcard(br: BR) -> None:
    reply = await br.sandbox(
        "PUT", "faults", {"faults": {"*": {"error_rate": 1.0, "error_status": 503}}}
    )
    assert reply.status == 200
    for path in ("customers/attributes", "customers/export-one"):
        reply = await br.data(path, {"customer_ids": IDS})
        assert reply.status == 503
    reply = await br.request("GET", f"/data/v2/projects/{br.token}/consent/categories")
    assert reply.status == 503
    # sandbox endpoints are never faulted
    assert (await br.sandbox("GET", "stats")).status == 200
    await br.sandbox("DELETE", "faults")
    reply = await br.update(IDS, {"a": 1})
    assert reply.status == 200


async def test_every_documented_route_name_can_be_targeted(start: Starter) -> None:
    for name in ROUTE_NAMES:
        br = await start(faults={name: Fault(error_rate=1.0, error_status=418)})
        hits = 0
        for method, path in (
            ("GET", "/track/v2/projects/{t}/system/time"),
            ("POST", "/track/v2/projects/{t}/customers"),
            ("POST", "/track/v2/projects/{t}/customers/events"),
            ("POST", "/track/v2/projects/{t}/batch"),
            ("POST", "/data/v2/projects/{t}/customers/attributes"),
            ("POST", "/data/v2/projects/{t}/customers/export-one"),
            ("POST", "/data/v2/projects/{t}/customers/events"),
            ("POST", "/data/v2/projects/{t}/customers/anonymize"),
            ("POST", "/data/v2/projects/{t}/customers/anonymize_bulk"),
            ("GET", "/data/v2/projects/{t}/consent/categories"),
        ):
            reply = await br.request(method, path.format(t=br.token), {})
            hits += reply.status == 418
        assert hits == 1, name


async def _hit_limit(br: BR) -> Reply:
    for i in range(40):
        reply = await br.update({"registered": f"r{i}"}, {"n": i})
        if reply.status == 429:
            return reply
    raise AssertionError("the limiter never answered 429")


async def test_rate_limit_has_no_retry_after_by_default(start: Starter) -> None:
    br = await start(requests_per_second=1)
    reply = await _hit_limit(br)
    assert "Retry-After" not in reply.headers


async def test_rate_limit_retry_after_when_configured(start: Starter) -> None:
    br = await start(requests_per_second=1, rate_limit_retry_after_s=1.5)
    reply = await _hit_limit(br)
    assert reply.headers["Retry-After"] == "1.5"


async def test_a_fault_can_target_one_project(start: Starter) -> None:
    slow, fast = "project-slow", "project-fast"
    br = await start(
        project_tokens=(slow, fast),
        faults={"customers@" + slow: Fault(error_rate=1.0, error_status=503)},
    )
    hit = BR(br.session, br.base, slow)
    spared = BR(br.session, br.base, fast)
    assert (await hit.update({"registered": "a"}, {"n": 1})).status == 503
    assert (await spared.update({"registered": "a"}, {"n": 1})).status == 200
    # "*@project" covers every route of that project and wins over a general fault.
    await br.sandbox(
        "PUT",
        "faults",
        {"faults": {"*": {"error_rate": 1.0, "error_status": 502}, f"*@{fast}": {}}},
    )
    assert (await hit.update({"registered": "b"}, {"n": 1})).status == 502
    assert (await spared.update({"registered": "b"}, {"n": 1})).status == 200


async def test_a_hang_holds_requests_until_the_faults_change(br: BR) -> None:
    await br.update(IDS, {"name": "Anna"})
    held = await br.sandbox("PUT", "faults", {"faults": {"attributes": {"hang": True}}})
    assert held.status == 200, held.body
    read = asyncio.create_task(br.attributes(IDS, {"type": "property", "property": "name"}))
    for _ in range(500):  # until the emulator holds it (a bound, not a timing check)
        counters = (await br.sandbox("GET", "faults")).body["counters"]
        if counters.get("hung") == 1:
            break
        await asyncio.sleep(0.01)
    assert counters.get("hung") == 1 and "released" not in counters
    assert not read.done()
    # Other routes are not held.
    assert (await br.update(IDS, {"name": "Anna"})).status == 200
    # Clearing (or replacing) the faults lets it go, answered as if healthy.
    await br.sandbox("DELETE", "faults")
    reply = await read
    assert reply.status == 200 and reply.body["results"][0]["value"] == "Anna"
    assert (await br.sandbox("GET", "faults")).body["counters"]["released"] == 1
