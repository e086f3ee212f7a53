"""Issue 15's acceptance test: a store day through a Bloomreach outage, with real processes
(POS -> edge -> core -> the Bloomreach emulator, the relay) on SQLite and PostgreSQL.

The day is a fixed plan of customer work (creates, searches, edits of names, addresses and
consents) in five phases: healthy, Bloomreach answering 503, Bloomreach answering too late
(beyond the core's and the relay's timeouts: the emulator still stores what it got, after the
caller gave up), Bloomreach dropping every connection, healthy again. During the outage every
search of a customer the till has seen answers 200 from the card cache in under 1 s as the till
measures it, and every create and edit answers 200. Once the outbox is drained, Bloomreach holds
exactly what the same plan, played on a second fresh stack without an outage, left there.

What is compared, per customer of the plan and for the project as a whole: the customer's IDs,
properties, segments, consents (valid, action, valid_until) and events (type and properties,
as a multiset; only the event's ``timestamp`` is left out, which is the moment of the write and
differs between the two days), and the project's customer and event counts.

Every search during the outage answers the card the till last saw for that customer, with
``X-Sitoo-Bloomreach-Cache: hit; age=N``: a card Bloomreach gave before the outage, or, for a
customer created or edited during the outage, the card its queued write left in the cache (read
your writes, services/queued_writes.py).

The 1 s holds with the core's default Bloomreach timeout (5 s) because searches are hedged
(services/card_hedge.py): a search Bloomreach has not answered within the default hedge delay
is answered from the cache while its call goes on, so neither the searches of the timeout phase
before the circuit opens nor the probes after each cool-down wait the 5 s. The circuit breaker
opens after its default 5 failures, with short cool-downs so that its probes meet every phase's
failure (checked on the core's `core_upstream_errors_total`, by class).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.databases import postgres_database, sqlite_url
from harness.metrics import sample_value
from harness.order_stack import TOKEN, OrderStack, order_stack
from sandbox.bloomreach.testing import BR
from sandbox.driver.pos_client import PosClient, SpiResult
from tests.support.eventually import eventually

pytestmark = pytest.mark.slow

HEADER = "X-Sitoo-Bloomreach-Cache"
ACCEPTANCE_S = 1.0  # the issue's own bound on a search during the outage
ENV = {
    # Short cool-downs: probes go out in every phase, and each meets that phase's failure.
    "SITOO_BR_BLOOMREACH_CIRCUIT_COOL_DOWN_SECONDS": "0.3",
    "SITOO_BR_BLOOMREACH_CIRCUIT_MAX_COOL_DOWN_SECONDS": "0.6",
    # The relay keeps retrying through the whole outage (~100 s of budget), never gives up.
    "SITOO_BR_RELAY_RETRY_SCHEDULE": json.dumps([0.0] + [0.5] * 200),
}
# Every Bloomreach endpoint (the admin routes under /_sandbox/ are never faulted).
OUTAGES: dict[str, dict[str, Any]] = {
    "503": {"error_rate": 1.0, "error_status": 503},
    # Beyond the core's default 5 s and the relay's 3 s (harness/order_stack.py RELAY_ENV).
    "timeout": {"latency_ms": 6000},
    "dropped": {"drop_rate": 1.0},
}
# How the core classes each phase's failure (core_upstream_errors_total's error_class).
PHASE_FAILURE = {"503": "unavailable", "timeout": "timeout", "dropped": "unavailable"}
PHASES = ("healthy", *OUTAGES, "recovered")
CITIES = ("Lund", "Malmö", "Uppsala", "Umeå", "Växjö")
SURNAMES = ("Berg", "Lind", "Holm", "Ek", "Strand")
CONSENT_SETS: tuple[list[str], ...] = ([], ["newsletter"], ["sms"], ["newsletter", "sms"])


@dataclass(frozen=True)
class Op:
    kind: str  # create | search | edit
    customer: int
    changes: dict[str, Any] = field(default_factory=dict)


def address(run: str, n: int) -> str:
    return f"kund-{run}-{n:02d}@example.se"


def new_customer(run: str, n: int) -> dict[str, Any]:
    return {
        "email": address(run, n),
        "name_first": f"Kund{n}",
        "name_last": "Svensson",
        "mobile": f"+467011{n:05d}",
        "invoice_address": {"city": "Göteborg", "zip": "41101", "country_id": "se"},
        "consents": list(CONSENT_SETS[n % len(CONSENT_SETS)]),
        "accepts_communication": ["email"],
    }


def plan(seed: int = 15) -> dict[str, list[Op]]:
    """The day: 12 members created while healthy, 4 more in each outage phase; searches of
    everyone seen so far and edits (address, name, consents) in every phase."""
    rng = random.Random(seed)
    day: dict[str, list[Op]] = {}
    seen: list[int] = []
    for phase in PHASES:
        fresh = list(range(len(seen), len(seen) + (12 if phase == "healthy" else 4)))
        if phase == "recovered":
            fresh = []
        ops = [Op("create", n) for n in fresh]
        seen += fresh
        for n in rng.sample(seen, min(8, len(seen))):
            changes: dict[str, Any] = {"consents": list(rng.choice(CONSENT_SETS))}
            if rng.random() < 0.6:
                changes["invoice_address"] = {"city": rng.choice(CITIES)}
            if rng.random() < 0.4:
                changes["name_last"] = rng.choice(SURNAMES)
            ops.append(Op("edit", n, changes))
        ops += [Op("search", n) for n in seen]
        rng.shuffle(ops)
        # A customer's create comes before anything else of theirs.
        ops.sort(key=lambda op: op.kind != "create")
        day[phase] = ops
    return day


@dataclass
class Observed:
    # (phase, customer, seconds as the till measured, the cache header)
    searches: list[tuple[str, int, float, str | None]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The last card the till was given for each customer.
    cards: dict[int, Any] = field(default_factory=dict)
    # Customers with a write during the outage (answered from their queued card until the
    # relay has delivered it).
    queued: set[int] = field(default_factory=set)
    # Outage searches that did not answer the last card the till saw.
    stale: list[str] = field(default_factory=list)


async def play(pos: PosClient, run: str, ops: list[Op], phase: str, seen: Observed) -> None:
    for op in ops:
        result: SpiResult
        n = op.customer
        if op.kind == "create":
            result = await pos.create(new_customer(run, n))
        elif op.kind == "edit":
            result = await pos.update(address(run, n), op.changes)
        else:
            result = await pos.search("email", address(run, n))
            seen.searches.append((phase, n, result.latency_s, result.headers.get(HEADER)))
            if result.status == 200 and isinstance(result.body, list) and len(result.body) == 1:
                if phase in OUTAGES and result.body[0] != seen.cards.get(n):
                    seen.stale.append(f"{phase} {n}: {result.body[0]} != {seen.cards.get(n)}")
                seen.cards[n] = result.body[0]
                continue
        if result.status != 200:
            seen.failures.append(f"{phase} {op.kind} {n}: {result.status} {result.body}")
            continue
        if op.kind != "search":
            seen.cards[n] = result.body
            if phase in OUTAGES:
                seen.queued.add(n)


@pytest.fixture
def reference_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second database of the same engine, for the day without an outage."""
    if database_url.startswith("sqlite"):
        (tmp_path / "reference").mkdir()
        yield sqlite_url(tmp_path / "reference")
        return
    with postgres_database() as url:
        yield url


async def failed_calls(o: OrderStack, phase: str) -> float:
    """The core's failed customer-path Bloomreach calls of the phase's failure class."""
    if phase not in PHASE_FAILURE:
        return 0.0
    url = f"http://{o.s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    labels = {"upstream": "bloomreach", "integration": "acme"}
    name = "core_upstream_errors_total"
    return sample_value(text, name, **labels, error_class=PHASE_FAILURE[phase]) or 0.0


async def cached_cards(o: OrderStack) -> int:
    return int(o.s.cli_json("cache", "stats", "--integration", "acme").get("cards", 0))


async def held(o: OrderStack, run: str, customers: int) -> dict[str, Any]:
    """What Bloomreach holds of the day (see the module's text), the run's tag taken out."""
    async with aiohttp.ClientSession() as session:
        br = BR(session, o.bloomreach_url, TOKEN)
        profiles: dict[int, Any] = {}
        for n in range(customers):
            found = await br.customers(registered=address(run, n))
            assert len(found) == 1, (n, found)
            [c] = found
            profiles[n] = {
                "ids": c["ids"],
                "properties": c["properties"],
                "segments": c["segments"],
                "consents": {
                    k: (v["valid"], v["action"], v["valid_until"]) for k, v in c["consents"].items()
                },
                "events": sorted(
                    json.dumps(
                        {
                            "type": e["type"],
                            "properties": {
                                k: v for k, v in e["properties"].items() if k != "timestamp"
                            },
                        },
                        sort_keys=True,
                    )
                    for e in c["events"]
                ),
            }
        everyone = await br.customers()
        events = await br.events()
    result: dict[str, Any] = json.loads(
        json.dumps(
            {"profiles": profiles, "customers": len(everyone), "events": len(events)}
        ).replace(f"-{run}-", "-RUN-")
    )
    return result


async def test_a_store_day_through_a_bloomreach_outage(
    database_url: str, reference_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    day = plan()
    customers = sum(op.kind == "create" for ops in day.values() for op in ops)
    env = {**service_env, **ENV}

    # The same day without an outage: what Bloomreach should end up holding.
    with order_stack(reference_url, env, tmp_path / "reference-logs") as ref:
        async with ref.pos() as pos:
            calm = Observed()
            for phase, ops in day.items():
                await play(pos, "ref", ops, phase, calm)
        assert calm.failures == []
        await ref.settle()
        expected = await held(ref, "ref", customers)
    consent_events = sum(
        '"consent"' in e for p in expected["profiles"].values() for e in p["events"]
    )
    assert consent_events > customers, expected  # a day with edits of consents to compare

    with order_stack(database_url, env, tmp_path / "logs") as o:
        async with o.pos() as pos:
            seen = await play_through_outage(o, pos, day)
        assert seen.failures == [], "creates, edits and searches answer 200 through the outage"
        during = [s for s in seen.searches if s[0] in OUTAGES]
        assert len(during) >= 3 * 12, during
        # Every search answers the card the till last saw: Bloomreach's last card from the
        # cache, or the card of a write queued during the outage (read your writes).
        assert seen.stale == []
        # Every answer from the cache says so, queued cards included.
        uncached = [s for s in during if s[3] is None or not s[3].startswith("hit; age=")]
        assert uncached == [], f"searches answered without the cache header: {uncached}"
        slowest = max(during, key=lambda s: s[2])
        assert slowest[2] < ACCEPTANCE_S, (
            f"the slowest search during the outage took {slowest[2]:.3f} s"
            f" ({slowest[0]}, customer {slowest[1]}); the issue's bound is {ACCEPTANCE_S} s"
        )
        await o.settle()
        states = await o.states()
        assert states.get("dead", 0) == 0, states
        # The outage's writes went through the outbox (not past the outage by luck).
        queued = await o.sql("SELECT count(*) FROM outbox_messages WHERE kind = 'customer'")
        assert queued[0][0] > 0 and seen.queued, (queued, seen.queued)
        assert await held(o, "out", customers) == expected


async def play_through_outage(o: OrderStack, pos: PosClient, day: dict[str, list[Op]]) -> Observed:
    seen = Observed()
    for phase, ops in day.items():
        await o.faults(o.bloomreach_url, {"*": OUTAGES[phase]} if phase in OUTAGES else {})
        before = await failed_calls(o, phase)
        await play(pos, "out", ops, phase, seen)
        if phase == "healthy":
            # The cache is written off the request's path: every card in before the outage.
            await eventually(
                lambda: cached_cards(o), lambda n: n >= 12, description="12 cards cached"
            )
        if phase in OUTAGES:
            # The circuit may have stayed open since the previous phase: the till searches on
            # until the core's own Bloomreach calls (its probes) met this phase's failure.
            [n, *_] = sorted(set(range(12)) - seen.queued)
            probe = [Op("search", n)]

            async def met_this_failure(probe: list[Op] = probe, phase: str = phase) -> float:
                await play(pos, "out", probe, phase, seen)
                return await failed_calls(o, phase)

            def grown(count: float, before: float = before) -> bool:
                return count > before

            await eventually(
                met_this_failure,
                grown,
                description=f"the core's Bloomreach calls failing with {PHASE_FAILURE[phase]}",
            )
    return seen
