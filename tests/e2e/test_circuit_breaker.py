"""Issue 15 §3: the circuit breaker per Bloomreach project, with real processes.

The Bloomreach emulator fails every request on purpose (sandbox/faults.py); its fault counters
say how many requests reached it. After ``FAILURES`` consecutive failures the core stops
calling: further customer reads are answered at once with the fallback error (503 +
``Retry-After`` until the card cache lands) and never reach the emulator; after the cool-down
exactly one probe goes out; a probe that gets an answer closes the circuit. The state gauge,
`integration validate` and the AdminService show each state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from harness.metrics import sample_value
from sitoo_bloomreach.v1 import admin_pb2, admin_pb2_grpc
from tests.support.eventually import eventually

pytestmark = pytest.mark.slow

FAILURES = 3
# Long enough that the checks of the open state (a CLI run among them) end well inside it on a
# loaded machine; each test asserts the state is still open after them, so a machine too slow
# for that fails loudly instead of passing by luck. The growth of the cool-down is unit-tested.
COOL_DOWN_S = 6.0
MAX_COOL_DOWN_S = 6.0
CLOSED, HALF_OPEN, OPEN = 0.0, 1.0, 2.0


@dataclass
class Answer:
    status: int
    retry_after: str
    body: Any


@pytest.fixture(scope="module")
def cs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    env = {
        "SITOO_BR_BLOOMREACH_TIMEOUT_SECONDS": "1.0",
        "SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES": str(FAILURES),
        "SITOO_BR_BLOOMREACH_CIRCUIT_COOL_DOWN_SECONDS": str(COOL_DOWN_S),
        "SITOO_BR_BLOOMREACH_CIRCUIT_MAX_COOL_DOWN_SECONDS": str(MAX_COOL_DOWN_S),
    }
    with customer_stack(tmp_path_factory.mktemp("breaker"), env) as stack:
        yield stack


@pytest.fixture
async def session(cs: CustomerStack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
        # Leave the circuit closed for the next test: no fault, and one answered probe.
        await _faults(s, cs, {})
        await eventually(lambda: _state(s, cs), lambda v: v != OPEN, description="cool-down")
        assert (await _search(s, cs)).status == 200
        assert await _state(s, cs) == CLOSED


async def _faults(
    session: aiohttp.ClientSession, cs: CustomerStack, faults: dict[str, Any]
) -> None:
    url = f"{cs.bloomreach_url}/_sandbox/faults"
    async with session.put(url, json={"faults": faults}) as response:
        assert response.status == 200, await response.text()


async def _reached(session: aiohttp.ClientSession, cs: CustomerStack) -> int:
    """Requests the emulator failed on purpose: with every request faulted, all that reached it."""
    async with session.get(f"{cs.bloomreach_url}/_sandbox/faults") as response:
        body = await response.json()
    return int(body["counters"].get("injected_errors", 0))


async def _search(session: aiohttp.ClientSession, cs: CustomerStack) -> Answer:
    email = f"kund-{uuid.uuid4().hex[:8]}@example.se"
    url = f"{cs.edge_url}/sitoo/{INTEGRATION}/customers?key_type=email&key={email}"
    headers = {"Authorization": aiohttp.encode_basic_auth(cs.username, cs.password)}
    async with session.get(url, headers=headers) as response:
        return Answer(
            response.status, response.headers.get("Retry-After", ""), await response.json()
        )


async def _metrics(session: aiohttp.ClientSession, cs: CustomerStack) -> str:
    async with session.get(f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics") as r:
        return await r.text()


async def _state(session: aiohttp.ClientSession, cs: CustomerStack) -> float | None:
    text = await _metrics(session, cs)
    return sample_value(text, "core_bloomreach_circuit_state", integration=INTEGRATION)


async def _short_circuited(session: aiohttp.ClientSession, cs: CustomerStack) -> float:
    text = await _metrics(session, cs)
    name = "core_bloomreach_short_circuited_total"
    return sample_value(text, name, integration=INTEGRATION) or 0.0


async def _admin_status(cs: CustomerStack) -> admin_pb2.CircuitBreakerStatus:
    env = cs.stack.env
    async with grpc.aio.insecure_channel(env["SITOO_BR_CORE_TARGET"]) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        return await stub.GetCircuitBreaker(
            admin_pb2.GetCircuitBreakerRequest(name=INTEGRATION),
            metadata=(("authorization", f"Bearer {env['SITOO_BR_ADMIN_TOKEN']}"),),
            timeout=10,
        )


def _validate_line(cs: CustomerStack) -> str:
    result = cs.stack.cli("integration", "validate", INTEGRATION, "--skip-round-trip")
    lines = [line for line in result.stdout.splitlines() if "bloomreach_circuit" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


async def _trip(session: aiohttp.ClientSession, cs: CustomerStack) -> None:
    for _ in range(FAILURES):
        assert (await _search(session, cs)).status == 503
    assert await _state(session, cs) == OPEN


async def test_an_outage_opens_the_circuit_and_an_answer_closes_it(
    cs: CustomerStack, session: aiohttp.ClientSession
) -> None:
    assert (await _search(session, cs)).status == 200
    assert await _state(session, cs) == CLOSED
    assert "[PASS] bloomreach_circuit: closed" in _validate_line(cs)
    assert (await _admin_status(cs)).state == "closed"

    await _faults(session, cs, {"*": {"error_rate": 1, "error_status": 503}})
    before = await _reached(session, cs)
    await _trip(session, cs)
    assert await _reached(session, cs) - before == FAILURES
    # Validation's own checks call Bloomreach directly (they test access, whatever the
    # circuit says); count from here.
    assert "[FAIL] bloomreach_circuit: open" in _validate_line(cs)
    before = await _reached(session, cs) - FAILURES

    # Open: answered at once with the fallback error, without calling Bloomreach.
    shed_before = await _short_circuited(session, cs)
    for _ in range(5):
        answer = await _search(session, cs)
        assert answer.status == 503, answer.body
        assert answer.retry_after.isdigit() and int(answer.retry_after) >= 1
        assert set(answer.body) >= {"error_code", "request_id"}
    assert await _reached(session, cs) - before == FAILURES
    assert await _short_circuited(session, cs) - shed_before == 5
    status = await _admin_status(cs)
    assert (status.enabled, status.consecutive_failures, status.trips) == (True, FAILURES, 1)
    assert status.integrations == [INTEGRATION]
    assert status.project and status.project not in cs.stack.env.values()
    assert await _state(session, cs) == OPEN

    # The cool-down ends: half-open; one probe goes out, fails, and opens it again.
    await eventually(lambda: _state(session, cs), lambda v: v == HALF_OPEN)
    assert "bloomreach_circuit: half-open" in _validate_line(cs)
    before = await _reached(session, cs) - FAILURES
    assert (await _search(session, cs)).status == 503
    assert await _reached(session, cs) - before == FAILURES + 1
    assert await _state(session, cs) == OPEN

    # Bloomreach is back: the next probe is answered and closes the circuit.
    await _faults(session, cs, {})
    await eventually(lambda: _state(session, cs), lambda v: v == HALF_OPEN)
    assert (await _search(session, cs)).status == 200
    assert await _state(session, cs) == CLOSED
    for _ in range(FAILURES + 1):
        assert (await _search(session, cs)).status == 200
    assert (await _admin_status(cs)).consecutive_failures == 0


async def test_half_open_lets_exactly_one_probe_through(
    cs: CustomerStack, session: aiohttp.ClientSession
) -> None:
    # Slow failures, so that the concurrent callers arrive while the probe is out.
    await _faults(session, cs, {"*": {"error_rate": 1, "error_status": 503, "latency_ms": 400}})
    before = await _reached(session, cs)
    await _trip(session, cs)
    await eventually(lambda: _state(session, cs), lambda v: v == HALF_OPEN)
    shed_before = await _short_circuited(session, cs)
    answers = await asyncio.gather(*(_search(session, cs) for _ in range(8)))
    assert [a.status for a in answers] == [503] * 8
    assert await _reached(session, cs) - before == FAILURES + 1
    assert await _short_circuited(session, cs) - shed_before == 7


async def test_timeouts_count_and_client_errors_do_not(
    cs: CustomerStack, session: aiohttp.ClientSession
) -> None:
    # Bloomreach slower than the 1 s call timeout: 504s, then the circuit opens.
    await _faults(session, cs, {"*": {"error_rate": 1, "latency_ms": 1500}})
    before = await _reached(session, cs)
    for _ in range(FAILURES):
        assert (await _search(session, cs)).status == 504
    assert await _state(session, cs) == OPEN
    answer = await _search(session, cs)
    assert answer.status == 503 and answer.retry_after.isdigit()
    assert await _state(session, cs) == OPEN
    # The emulator counts a slow request when it ends: only the three timed-out calls came.
    await eventually(lambda: _reached(session, cs), lambda n: n - before >= FAILURES)
    await _faults(session, cs, {})
    await eventually(lambda: _state(session, cs), lambda v: v == HALF_OPEN)
    assert (await _search(session, cs)).status == 200
    assert await _reached(session, cs) - before == FAILURES

    # A 4xx proves Bloomreach is up: however many, the circuit stays closed.
    await _faults(session, cs, {"*": {"error_rate": 1, "error_status": 400}})
    for _ in range(FAILURES + 2):
        assert (await _search(session, cs)).status != 503
    assert await _state(session, cs) == CLOSED


async def test_an_open_circuit_answers_a_known_customer_from_the_card_cache(
    cs: CustomerStack, session: aiohttp.ClientSession
) -> None:
    """The breaker and the card cache together (issue 15 §1 + §3): once the circuit is open,
    a customer the till has seen is answered from the cache at once, and the answer costs
    Bloomreach nothing."""
    email = f"kund-{uuid.uuid4().hex[:8]}@example.se"
    headers = {"Authorization": aiohttp.encode_basic_auth(cs.username, cs.password)}
    base = f"{cs.edge_url}/sitoo/{INTEGRATION}"
    async with session.post(f"{base}/customers", json={"email": email}, headers=headers) as r:
        assert r.status == 200, await r.text()
    url = f"{base}/customers?key_type=email&key={email}"

    async def search_known() -> tuple[int, str | None, Any]:
        async with session.get(url, headers=headers) as response:
            header = response.headers.get("X-Sitoo-Bloomreach-Cache")
            return response.status, header, await response.json()

    status, header, fresh = await search_known()
    assert (status, header) == (200, None) and len(fresh) == 1
    await _faults(session, cs, {"attributes": {"error_rate": 1, "error_status": 503}})
    # The card is written off the request's path: wait until the cache holds it (answers
    # from the cache while the circuit is still closed are fine), then trip the circuit.
    await eventually(
        search_known, lambda r: r[0] == 200 and r[1] is not None, description="card cached"
    )
    for _ in range(FAILURES):
        await _search(session, cs)
    assert await _state(session, cs) == OPEN
    reached = await _reached(session, cs)
    status, header, body = await search_known()
    assert status == 200 and body == fresh
    assert header is not None and header.startswith("hit; age=")
    assert await _reached(session, cs) == reached
    assert await _state(session, cs) == OPEN
