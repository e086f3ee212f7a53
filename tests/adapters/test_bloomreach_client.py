"""The Bloomreach adapter against the sandbox emulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core_service.adapters.bloomreach import (
    BloomreachAuthFailed,
    BloomreachClient,
    BloomreachProject,
    BloomreachRateLimited,
    BloomreachRejected,
    BloomreachTimeout,
    BloomreachUnavailable,
    attributes_body,
    encode,
    encode_value,
)
from core_service.adapters.http_client import HttpClients
from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET


class Emulator:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def faults(self, faults: dict[str, Any], rps: float | None = None) -> None:
        body: dict[str, Any] = {"faults": faults}
        if rps is not None:
            body["requests_per_second"] = rps
        async with self.session.put(f"{self.url}/_sandbox/faults", json=body) as response:
            assert response.status == 200, await response.text()

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.session.get(
            f"{self.url}/_sandbox/projects/{DEFAULT_PROJECT_TOKEN}/events",
            params={"event_type": event_type},
        ) as response:
            data: dict[str, Any] = await response.json()
            return list(data["events"])


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    runner = web.AppRunner(create_app(BloomreachConfig.sandbox(seed=1)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    async with aiohttp.ClientSession() as session:
        yield Emulator(f"http://127.0.0.1:{runner.addresses[0][1]}", session)
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[HttpClients]:
    clients = HttpClients()
    yield clients
    await clients.close()


def client(http: HttpClients, url: str, **overrides: str) -> BloomreachClient:
    project = BloomreachProject(
        base_url=url,
        project_token=overrides.get("token", DEFAULT_PROJECT_TOKEN),
        key_id=overrides.get("key_id", DEFAULT_KEY_ID),
        secret=overrides.get("secret", DEFAULT_SECRET),
    )
    return BloomreachClient(http, project)


def purchase(command_id: str, email: str, purchase_id: str) -> dict[str, Any]:
    return {
        "name": "customers/events",
        "command_id": command_id,
        "data": {
            "customer_ids": {"registered": email},
            "event_type": "purchase",
            "timestamp": 1700000000,
            "properties": {"purchase_id": purchase_id, "total_price": 10.5},
        },
    }


async def test_batch_results_match_commands(emulator: Emulator, http: HttpClients) -> None:
    br = client(http, emulator.url)
    bad = {"name": "customers/events", "command_id": "c2", "data": {"customer_ids": {}}}
    results = await br.batch([purchase("c1", "a@x.se", "P1"), bad], timeout=5)
    assert [r.command_id for r in results] == ["c1", "c2"]
    assert results[0].success and not results[1].success
    assert results[1].errors
    assert [e["properties"]["purchase_id"] for e in await emulator.events("purchase")] == ["P1"]


async def test_attributes_and_not_found(emulator: Emulator, http: HttpClients) -> None:
    br = client(http, emulator.url)
    await br.track_customer({"registered": "a@x.se"}, {"first_name": "Anna"}, 1700000000, 5)
    results = await br.attributes(
        {"registered": "a@x.se"},
        [{"type": "property", "property": "first_name"}, {"type": "id", "id": "registered"}],
        timeout=5,
    )
    assert results is not None
    assert [r.value for r in results] == ["Anna", "a@x.se"]
    missing = await br.attributes(
        {"registered": "nobody@x.se"}, [{"type": "property", "property": "first_name"}], 5
    )
    assert missing is not None and missing[0].value is None


async def test_wrong_secret_and_unknown_key_are_auth_failures(
    emulator: Emulator, http: HttpClients
) -> None:
    with pytest.raises(BloomreachAuthFailed) as info:
        await client(http, emulator.url, secret="wrong").system_time(5)
    assert info.value.status == 403
    assert "wrong" not in str(info.value)
    with pytest.raises(BloomreachAuthFailed) as info:
        await client(http, emulator.url, key_id="nobody").system_time(5)
    assert info.value.status == 401
    with pytest.raises(BloomreachAuthFailed):
        await client(http, emulator.url, token="not-a-project").system_time(5)


async def test_failures_are_classified(emulator: Emulator, http: HttpClients) -> None:
    br = client(http, emulator.url)
    await emulator.faults({"batch": {"error_rate": 1.0, "error_status": 503}})
    with pytest.raises(BloomreachUnavailable) as unavailable:
        await br.batch([purchase("c1", "a@x.se", "P1")], timeout=5)
    assert unavailable.value.transient
    await emulator.faults({"batch": {"error_rate": 1.0, "error_status": 429, "retry_after_s": 7}})
    with pytest.raises(BloomreachRateLimited) as limited:
        await br.batch([purchase("c1", "a@x.se", "P1")], timeout=5)
    assert limited.value.retry_after_s == 7
    await emulator.faults({"batch": {"latency_ms": 2000}})
    with pytest.raises(BloomreachTimeout):
        await br.batch([purchase("c1", "a@x.se", "P1")], timeout=0.2)
    await emulator.faults({"batch": {"drop_rate": 1.0}})
    with pytest.raises(BloomreachUnavailable):
        await br.batch([purchase("c1", "a@x.se", "P1")], timeout=5)
    await emulator.faults({})
    with pytest.raises(BloomreachRejected) as rejected:
        await br.track_customer({}, {"a": 1}, 1700000000, 5)
    assert not rejected.value.transient
    # Nothing the faults refused was stored.
    assert await emulator.events("purchase") == []


def test_encoding_is_deterministic() -> None:
    a = encode({"b": 1, "a": {"y": [1, 2], "x": "é"}})
    b = encode({"a": {"x": "é", "y": [1, 2]}, "b": 1})
    assert a == b == '{"a":{"x":"é","y":[1,2]},"b":1}'.encode()


def test_attributes_body_is_the_encoded_request() -> None:
    # The read's body is built from the plan's attributes encoded once: the same bytes as the
    # request encoded whole (a resend stays an exact duplicate).
    attributes = (
        {"type": "property", "property": "first_name"},
        {"type": "consent", "category": "newsletter", "mode": "valid"},
        {"type": "property", "property": 'é"名'},
    )
    ids = {"registered": "p@example.se", "email": "ü@example.se"}
    whole = encode({"customer_ids": ids, "attributes": list(attributes)})
    assert attributes_body(ids, encode_value(list(attributes))) == whole


def test_project_repr_hides_the_secret() -> None:
    project = BloomreachProject("http://x", "t", "k", "super-secret")
    assert "super-secret" not in repr(project)
