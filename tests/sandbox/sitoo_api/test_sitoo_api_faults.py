"""Rate limiting and injected faults (``sandbox.faults``) on the Sitoo emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from sandbox.faults import Fault
from sandbox.sitoo_api.orders import OrderLine, sale_order

ALL_ORDERS = "/v2/accounts/1500/orders.json"
ORDERS = "/v2/accounts/1500/sites/1/orders.json"


async def test_rate_limit_answers_429_with_error_body_and_retry_after(
    start_emulator: Any, make_config: Any
) -> None:
    api = await start_emulator(make_config(requests_per_second=1))
    replies = [await api.get(ALL_ORDERS) for _ in range(20)]
    statuses = [r.status for r in replies]
    assert statuses[0] == 200
    assert 429 in statuses
    limited = next(r for r in replies if r.status == 429)
    assert limited.body == {"statuscode": 429, "errortext": "Too many requests"}
    assert limited.headers["Retry-After"] == "1"
    stats = (await api.get("/_sandbox/stats")).body
    assert stats["faults"]["rate_limited"] == statuses.count(429)
    assert stats["responses"]["429"] == statuses.count(429)


async def test_rate_limited_writes_are_dropped(start_emulator: Any, make_config: Any) -> None:
    api = await start_emulator(make_config(requests_per_second=1))
    statuses = [
        (await api.post(ORDERS, json=sale_order([OrderLine("A")]))).status for _ in range(20)
    ]
    assert 429 in statuses
    stored = (await api.get("/_sandbox/stats")).body["orders"]["1500"]
    assert stored == statuses.count(200)


async def test_sandbox_routes_are_not_rate_limited(start_emulator: Any, make_config: Any) -> None:
    api = await start_emulator(make_config(requests_per_second=1))
    statuses = {(await api.get("/_sandbox/stats")).status for _ in range(20)}
    assert statuses == {200}


async def test_error_fault_with_status_and_retry_after(api: Any) -> None:
    fault = {"error_rate": 1.0, "error_status": 503, "retry_after_s": 7}
    put = await api.put("/_sandbox/faults", json={"faults": {"get_order": fault}})
    assert put.status == 200
    orderid = await api.add(sale_order([OrderLine("A")]))  # add_order is not targeted
    reply = await api.get(f"/v2/accounts/1500/sites/1/orders/{orderid}.json")
    assert reply.status == 503
    assert reply.body == {"statuscode": 503, "errortext": "Injected fault"}
    assert reply.headers["Retry-After"] == "7"
    assert (await api.list()).status == 200  # list_all_orders is not targeted either
    assert (await api.get("/_sandbox/stats")).body["faults"]["injected_errors"] == 1


async def test_partial_error_rate_is_seeded(start_emulator: Any, make_config: Any) -> None:
    async def run() -> list[int]:
        config = make_config(
            faults={"list_all_orders": Fault(error_rate=0.5, error_status=502)}, seed=42
        )
        api = await start_emulator(config)
        return [(await api.get(ALL_ORDERS)).status for _ in range(40)]

    first = await run()
    assert set(first) == {200, 502}
    assert await run() == first


async def test_wildcard_fault_hits_every_api_route_but_not_sandbox(api: Any) -> None:
    await api.put(
        "/_sandbox/faults", json={"faults": {"*": {"error_rate": 1, "error_status": 500}}}
    )
    assert (await api.get(ALL_ORDERS)).status == 500
    assert (await api.post(ORDERS, json=sale_order([OrderLine("A")]))).status == 500
    assert (await api.get("/_sandbox/stats")).status == 200
    assert (await api.request("DELETE", "/_sandbox/faults")).status == 200
    assert (await api.get(ALL_ORDERS)).status == 200


async def test_latency_fault_delays_only_the_targeted_route(api: Any) -> None:
    await api.put("/_sandbox/faults", json={"faults": {"list_orders": {"latency_ms": 5000}}})
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(asyncio.TimeoutError):
        async with api.session.get(
            api.base + ORDERS,
            headers={"Authorization": aiohttp.encode_basic_auth("1500-1", "s3cret")},
            timeout=timeout,
        ) as response:
            await response.read()
    assert (await api.get(ALL_ORDERS)).status == 200


async def test_small_latency_still_answers(api: Any) -> None:
    await api.put("/_sandbox/faults", json={"faults": {"list_all_orders": {"latency_ms": 20}}})
    reply = await api.get(ALL_ORDERS)
    assert reply.status == 200
    assert reply.body == {"totalcount": 0, "items": []}


async def test_dropped_connection_stores_nothing(api: Any) -> None:
    await api.put("/_sandbox/faults", json={"faults": {"add_order": {"drop_rate": 1.0}}})
    with pytest.raises(aiohttp.ClientError):
        await api.post(ORDERS, json=sale_order([OrderLine("A")]))
    stats = (await api.get("/_sandbox/stats")).body
    assert stats["orders"]["1500"] == 0
    assert stats["faults"]["dropped"] == 1
    assert stats["responses"] == {"dropped": 1}


async def test_error_after_commit_stores_the_order(api: Any) -> None:
    fault = {"error_after_commit_rate": 1.0, "error_status": 504}
    await api.put("/_sandbox/faults", json={"faults": {"add_order": fault}})
    reply = await api.post(ORDERS, json=sale_order([OrderLine("A")]))
    assert reply.status == 504
    assert reply.body["statuscode"] == 504
    assert (await api.list()).body["totalcount"] == 1


async def test_reset_restores_the_configured_faults(start_emulator: Any, make_config: Any) -> None:
    config = make_config(faults={"list_all_orders": Fault(error_rate=1.0, error_status=503)})
    api = await start_emulator(config)
    assert (await api.get(ALL_ORDERS)).status == 503
    await api.request("DELETE", "/_sandbox/faults")
    assert (await api.get(ALL_ORDERS)).status == 200
    await api.post("/_sandbox/reset")
    assert (await api.get(ALL_ORDERS)).status == 503
    assert (await api.get("/_sandbox/faults")).body["counters"] == {"injected_errors": 1}
