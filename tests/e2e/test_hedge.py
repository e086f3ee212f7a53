"""Hedged reads (services/card_hedge.py) end to end on SQLite and PostgreSQL: POS -> edge -> core
-> the Bloomreach emulator, all real processes, with the core's DEFAULT Bloomreach timeout (5 s)
and hedge delay. The emulator *hangs* every customer read (``{"hang": true}``: it accepts the
call and answers only when the test lets it go), and its counters show that the till's answer
came while the call was still held: for a customer the till has seen, search and card are
answered from the cache (header and metrics say so, reason "hedged"); a customer it has not seen
waits for Bloomreach's own failure; the hung calls still open the circuit; once Bloomreach is
back, the answer is fresh again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from harness.databases import postgres_database
from harness.metrics import sample_value
from sandbox.driver.pos_client import PosClient
from tests.support.eventually import eventually

pytestmark = pytest.mark.slow

HEADER = "X-Sitoo-Bloomreach-Cache"
OPEN = 2.0
HANG = {"attributes": {"hang": True}}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def cs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CustomerStack]:
    # The Bloomreach timeout and hedge delay are the defaults; the cool-downs are short so the
    # recovery is seen soon (the breaker's default 5 failures stand).
    env = {
        "SITOO_BR_BLOOMREACH_CIRCUIT_COOL_DOWN_SECONDS": "1.0",
        "SITOO_BR_BLOOMREACH_CIRCUIT_MAX_COOL_DOWN_SECONDS": "2.0",
    }
    work: Path = tmp_path_factory.mktemp(f"hedge-{request.param}")
    if request.param == "sqlite":
        with customer_stack(work, env) as stack:
            yield stack
        return
    with postgres_database() as url, customer_stack(work, env, database_url=url) as stack:
        yield stack


@pytest.fixture
async def spi(cs: CustomerStack) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": aiohttp.encode_basic_auth(cs.username, cs.password)}
    async with aiohttp.ClientSession(f"{cs.edge_url}/sitoo/{INTEGRATION}/", headers=headers) as s:
        yield s


@pytest.fixture
async def session(cs: CustomerStack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
        await _faults(s, cs, None)


async def _faults(
    session: aiohttp.ClientSession, cs: CustomerStack, faults: dict[str, Any] | None
) -> dict[str, int]:
    """Replace the emulator's faults (None: clear them, letting hung calls go); its counters."""
    url = f"{cs.bloomreach_url}/_sandbox/faults"
    method = session.delete if faults is None else session.put
    async with method(url, json=None if faults is None else {"faults": faults}) as response:
        body = await response.json()
        assert response.status == 200, body
    return dict(body["counters"])


async def _counters(session: aiohttp.ClientSession, cs: CustomerStack) -> dict[str, int]:
    async with session.get(f"{cs.bloomreach_url}/_sandbox/faults") as response:
        return dict((await response.json())["counters"])


async def _get(spi: aiohttp.ClientSession, path: str, **query: str) -> tuple[int, str | None, Any]:
    async with spi.get(path, params=query) as response:
        return response.status, response.headers.get(HEADER), await response.json()


async def _metric(session: aiohttp.ClientSession, url: str, name: str, **labels: str) -> float:
    async with session.get(url) as response:
        return sample_value(await response.text(), name, **labels) or 0.0


def _core_metrics(cs: CustomerStack) -> str:
    return f"http://{cs.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"


async def _known_customer(cs: CustomerStack, spi: aiohttp.ClientSession) -> tuple[str, Any]:
    """A customer the till created and searched, whose card is in the cache."""
    email = f"kund-{uuid.uuid4().hex[:10]}@example.se"
    cards = await _cards(cs)
    async with PosClient(cs.edge_url, INTEGRATION, cs.username, cs.password) as pos:
        created = await pos.create({"email": email, "name_first": "Anna", "mobile": "0701112233"})
    assert created.status == 200, created.body
    status, header, fresh = await _get(spi, "customers", key_type="email", key=email)
    assert (status, header, len(fresh)) == (200, None, 1)
    # The card is written off the request's path: wait until it is there.
    await eventually(
        lambda: _cards(cs),
        lambda n: n > cards,
        description="the customer's card cached",
    )
    return email, fresh


async def _cards(cs: CustomerStack) -> int:
    stats = cs.stack.cli_json("cache", "stats", "--integration", INTEGRATION)
    return int(stats.get("cards", 0))  # proto3 JSON leaves out a 0


async def test_a_hanging_bloomreach_costs_a_known_customer_nothing(
    cs: CustomerStack, spi: aiohttp.ClientSession, session: aiohttp.ClientSession
) -> None:
    email, fresh = await _known_customer(cs, spi)
    customer_id = fresh[0]["customer_id"]
    core = _core_metrics(cs)
    hedged = {"integration": INTEGRATION, "outcome": "hedged"}
    before = await _metric(session, core, "core_card_cache_answers_total", **hedged)
    edge_route = {"route": "/sitoo/{integration}/customers", "reason": "hedged"}
    edge_before = await _metric(
        session, f"{cs.edge_url}/metrics", "edge_card_cache_answers_total", **edge_route
    )
    start = await _faults(session, cs, HANG)

    # Search and card answer from the cache while the emulator still holds both calls.
    status, header, body = await _get(spi, "customers", key_type="email", key=email)
    assert (status, body) == (200, fresh)
    assert header is not None and header.startswith("hit; age="), header
    status, header, body = await _get(spi, f"customers/{customer_id}")
    assert (status, body) == (200, fresh[0])
    assert header is not None and header.startswith("hit; age="), header
    counters = await _counters(session, cs)
    assert counters.get("hung", 0) - start.get("hung", 0) == 2
    assert counters.get("released", 0) == start.get("released", 0)  # nothing let go yet
    search_hedged = await _metric(
        session, core, "core_card_cache_answers_total", operation="search", **hedged
    )
    get_hedged = await _metric(
        session, core, "core_card_cache_answers_total", operation="get", **hedged
    )
    assert search_hedged + get_hedged == before + 2
    edge_after = await _metric(
        session, f"{cs.edge_url}/metrics", "edge_card_cache_answers_total", **edge_route
    )
    assert edge_after == edge_before + 1

    # A customer the till never saw has no card to stand in: Bloomreach's own outcome.
    status, header, body = await _get(
        spi, "customers", key_type="email", key=f"nobody-{uuid.uuid4().hex[:8]}@example.se"
    )
    assert status in (503, 504) and header is None, body

    # The hung calls still count: the circuit opens (its default 5 failures) while the till
    # keeps being answered from the cache.
    async def search_then_state() -> float | None:
        status, header, body = await _get(spi, "customers", key_type="email", key=email)
        assert (status, body) == (200, fresh) and header is not None
        text = await (await session.get(core)).text()
        return sample_value(text, "core_bloomreach_circuit_state", integration=INTEGRATION)

    await eventually(search_then_state, lambda state: state == OPEN, description="circuit open")
    fallback = {"integration": INTEGRATION, "operation": "search", "outcome": "hit"}
    hits = await _metric(session, core, "core_card_cache_answers_total", **fallback)
    status, header, body = await _get(spi, "customers", key_type="email", key=email)
    assert (status, body) == (200, fresh) and header is not None
    assert await _metric(session, core, "core_card_cache_answers_total", **fallback) > hits

    # Bloomreach back (the hung calls let go): once a probe got through, a fresh answer.
    await _faults(session, cs, None)
    await eventually(
        lambda: _get(spi, "customers", key_type="email", key=email),
        lambda answer: answer == (200, None, fresh),
        description="a fresh answer after recovery",
    )
    assert await _get(spi, f"customers/{customer_id}") == (200, None, fresh[0])
