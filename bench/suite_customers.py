"""Customer path: search and get through edge -> core -> Bloomreach emulator, against the
emulator alone (latency floor) and a pass-through chain with the same three hops and no
logic (aiohttp -> grpc.aio -> aiohttp client -> emulator: the architecture's ceiling)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from http import HTTPStatus
from pathlib import Path

import aiohttp

from bench.customer_load import (
    CONCURRENCY,
    RATE,
    ROUNDS,
    interleaved_rows,
    measure_row,
    soak,
    start_passthrough,
)
from bench.harness import LoadResult, rss_mb
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    BloomreachAccess,
    ConsentType,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.domain.mapping import CustomerMapping
from edge.spi_contract import CARD_CACHE_HEADER as CACHE_HEADER
from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET

EMAIL = "bench.customer@example.se"
# The card with offers (issue 14): a customer given promotions and bonus checks as a
# Bloomreach scenario does; the card reads them with one events export beside its read.
OFFERS_EMAIL = "bench.offers@example.se"
OFFERS = 5


def _attributes_body() -> dict[str, object]:
    """The exact attributes request the core sends for the bench integration."""
    integration = Integration(
        id=0,
        name=INTEGRATION,
        display_name="",
        company="",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("", "", "", None),
        sitoo=SitooAccess(0, "", "", None, 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=tuple(FieldMapping(f, t) for f, t in DEFAULT_FIELD_MAPPINGS),
        consent_types=(
            ConsentType("consent_newsletter", "newsletter"),
            ConsentType("consent_sms", "sms"),
        ),
        channel_categories={"email": "newsletter", "sms": "sms"},
    )
    mapping = CustomerMapping(integration)
    return {"customer_ids": {"registered": EMAIL}, "attributes": list(mapping.attributes)}


CEILING = "pass-through chain (ceiling)"
SEARCH = "search (edge -> core -> emulator)"
GET = "get (edge -> core -> emulator)"
CARD = f"card with offers (get, {OFFERS} offers)"
SEARCH_DOWN = "search, Bloomreach down (edge -> core -> card cache)"
GET_DOWN = "get, Bloomreach down (edge -> core -> card cache)"
DOWN = {"error_rate": 1, "error_status": 503}


async def _bloomreach_faults(
    session: aiohttp.ClientSession, url: str, faults: dict[str, object]
) -> None:
    async with session.put(f"{url}/_sandbox/faults", json={"faults": faults}) as response:
        assert response.status == HTTPStatus.OK, await response.text()


def _from_cache(
    session: aiohttp.ClientSession, url: str, spi: aiohttp.BasicAuth
) -> Callable[[], Awaitable[None]]:
    """A call that must be answered from the card cache."""

    async def call() -> None:
        async with session.get(url, auth=spi) as response:
            await response.read()
            if response.status != HTTPStatus.OK or CACHE_HEADER not in response.headers:
                raise RuntimeError(f"status {response.status}, not from the card cache")

    return call


async def _measure_outage(
    session: aiohttp.ClientSession,
    bloomreach_url: str,
    base: str,
    spi: aiohttp.BasicAuth,
    quick: bool,
) -> list[tuple[str, LoadResult, LoadResult]]:
    """Issue 15: search and get with Bloomreach down (every attributes call a 503), answered
    from the card cache the healthy runs filled."""
    measured = []
    await _bloomreach_faults(session, bloomreach_url, {"attributes": DOWN})
    try:
        for name, url in (
            (SEARCH_DOWN, f"{base}/customers?key_type=email&key={EMAIL}"),
            (GET_DOWN, f"{base}/customers/{EMAIL}"),
        ):
            measured.append(await measure_row(name, _from_cache(session, url, spi), quick))
    finally:
        await _bloomreach_faults(session, bloomreach_url, {})
    return measured


def _outage_lines(by_name: dict[str, tuple[LoadResult, LoadResult]]) -> list[str]:
    lines = []
    for down, healthy in (
        (SEARCH_DOWN, SEARCH),
        (GET_DOWN, GET),
    ):
        t, lat = by_name[down]
        ht, hlat = by_name[healthy]
        lines.append(
            f"- {down.split(',')[0]} with Bloomreach down (503 on every read, answered from the "
            f"card cache with `X-Sitoo-Bloomreach-Cache`): {t.throughput:,.0f} requests/s, p99 "
            f"{lat.p99_ms:.1f} ms (healthy, same run: {ht.throughput:,.0f} requests/s, p99 "
            f"{hlat.p99_ms:.1f} ms)."
        )
    return lines


async def _create_customers(
    session: aiohttp.ClientSession, base: str, spi: aiohttp.BasicAuth
) -> None:
    for email in (EMAIL, OFFERS_EMAIL):
        body = {"email": email, "name_first": "Bench"}
        async with session.post(f"{base}/customers", json=body, auth=spi) as created:
            assert created.status == HTTPStatus.OK, await created.text()


async def _give_offers(session: aiohttp.ClientSession, bloomreach_url: str, auth: str) -> None:
    """Offer events on the offers customer, through Bloomreach's Tracking API."""
    url = f"{bloomreach_url}/track/v2/projects/{DEFAULT_PROJECT_TOKEN}/customers/events"
    for n in range(OFFERS):
        kind = "sitoo_promotion" if n % 2 else "sitoo_bonus_check"
        event = {
            "customer_ids": {"registered": OFFERS_EMAIL},
            "event_type": kind,
            "timestamp": 1_700_000_000 + n,
            "properties": {"id": f"offer-{n}", "name": f"Offer {n}", "type": "cart_percent",
                           "value": 10, "amount": 50, "currency": "SEK"},
        }  # fmt: skip
        async with session.post(url, json=event, headers={"Authorization": auth}) as response:
            if response.status != HTTPStatus.OK:
                raise RuntimeError(f"tracking an offer: {response.status}")


GATED_GET = "get, offer-count gate (customer without offers)"
GATE_AGGREGATES = {"bench-promotions": "sitoo_promotion", "bench-bonus-checks": "sitoo_bonus_check"}


async def _set_gate(
    cs: CustomerStack, session: aiohttp.ClientSession, aggregates: dict[str, str]
) -> None:
    """Loyalty's offer-count gate on (count aggregates defined as a marketer would, then the
    integration's settings through the CLI) or, with no aggregates, off again."""
    for aggregate, event_type in aggregates.items():
        url = (
            f"{cs.bloomreach_url}/_sandbox/projects/{DEFAULT_PROJECT_TOKEN}/aggregates/{aggregate}"
        )
        body = {"event_type": event_type, "function": "count"}
        async with session.put(url, json=body) as response:
            assert response.status == HTTPStatus.OK, await response.text()
    ids = list(aggregates) or ["off", "off"]
    cs.stack.cli_json(
        "integration", "update", INTEGRATION,
        "--loyalty", f"promotion-count-aggregate-id={ids[0]}",
        "--loyalty", f"bonus-check-count-aggregate-id={ids[1]}",
    )  # fmt: skip


async def _requests(session: aiohttp.ClientSession, bloomreach_url: str) -> dict[str, int]:
    async with session.get(f"{bloomreach_url}/_sandbox/stats") as response:
        stats = await response.json()
    requests: dict[str, int] = stats["projects"][DEFAULT_PROJECT_TOKEN]["requests"]
    return requests


async def _measure_gate(
    cs: CustomerStack,
    session: aiohttp.ClientSession,
    get: Callable[[], Awaitable[None]],
    quick: bool,
) -> tuple[str, LoadResult, LoadResult]:
    """The card of a customer without offers with the gate on: checked to cost one Bloomreach
    call, then measured like the other rows; the gate is off again afterwards."""
    await _set_gate(cs, session, GATE_AGGREGATES)
    try:
        before = await _requests(session, cs.bloomreach_url)
        await get()
        after = await _requests(session, cs.bloomreach_url)
        cost = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        if cost != {"attributes": 1}:
            raise RuntimeError(f"a gated card cost {cost}, not one attributes call")
        return await measure_row(GATED_GET, get, quick)
    finally:
        await _set_gate(cs, session, {})


def _row(name: str, throughput: LoadResult, latency: LoadResult) -> str:
    return (
        f"| {name} | {throughput.throughput:,.0f} | {throughput.errors} | "
        f"{latency.p50_ms:.1f} | {latency.p99_ms:.1f} | {latency.errors} |"
    )


# The suite's measurements in the order BENCHMARKS.md reports them, one after another.
async def run(quick: bool) -> str:
    body = json.dumps(_attributes_body())
    auth = aiohttp.encode_basic_auth(DEFAULT_KEY_ID, DEFAULT_SECRET)
    results: list[tuple[str, LoadResult, LoadResult]] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        cs = stack.enter_context(customer_stack(work, {"SITOO_BR_LOG_LEVEL": "WARNING"}))
        front_port = start_passthrough(stack, cs.bloomreach_url, work, body)
        spi = aiohttp.BasicAuth(cs.username, cs.password)
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            base = f"{cs.edge_url}/sitoo/{INTEGRATION}"
            await _create_customers(session, base, spi)
            await _give_offers(session, cs.bloomreach_url, auth)

            async def expect(response: aiohttp.ClientResponse) -> None:
                await response.read()
                if response.status != HTTPStatus.OK:
                    raise RuntimeError(f"status {response.status}")

            async def emulator() -> None:
                async with session.post(
                    f"{cs.bloomreach_url}/data/v2/projects/{DEFAULT_PROJECT_TOKEN}/customers/attributes",
                    data=body,
                    headers={"Authorization": auth, "Content-Type": "application/json"},
                ) as response:
                    await expect(response)

            async def passthrough() -> None:
                async with session.get(f"http://127.0.0.1:{front_port}/pass") as response:
                    await expect(response)

            async def search() -> None:
                url = f"{base}/customers?key_type=email&key={EMAIL}"
                async with session.get(url, auth=spi) as response:
                    await expect(response)

            async def get() -> None:
                async with session.get(f"{base}/customers/{EMAIL}", auth=spi) as response:
                    await expect(response)

            async def card_with_offers() -> None:
                url = f"{base}/customers/{OFFERS_EMAIL}"
                async with session.get(url, auth=spi) as response:
                    await expect(response)

            results.append(await measure_row("emulator alone (floor)", emulator, quick))
            compared, ratios = await interleaved_rows(
                [(CEILING, passthrough), (SEARCH, search), (GET, get), (CARD, card_with_offers)],
                quick,
            )
            results += compared
            results.append(await _measure_gate(cs, session, get, quick))
            results += await _measure_outage(session, cs.bloomreach_url, base, spi, quick)
            served = sum(t.requests + lat.requests for n, t, lat in results if "edge" in n)
            edge_pid = cs.stack.edge.process.pid  # type: ignore[union-attr]
            core_pid = cs.stack.core.process.pid  # type: ignore[union-attr]
            rss_before = (served, rss_mb(edge_pid), rss_mb(core_pid))
            if not quick:
                served = await soak(served, search, get)
            edge_rss = rss_mb(edge_pid)
            core_rss = rss_mb(core_pid)

    return _report(results, ratios, rss_before, (served, edge_rss, core_rss))


def _report(
    results: list[tuple[str, LoadResult, LoadResult]],
    ratios: dict[str, list[float]],
    rss_before: tuple[int, float, float],
    rss_after: tuple[int, float, float],
) -> str:
    served, edge_rss, core_rss = rss_after
    by_name = {name: (t, lat) for name, t, lat in results}
    floor_p99 = by_name["emulator alone (floor)"][1].p99_ms
    lines = [
        "## Customer path: search and get",
        "",
        f"Closed loop at {CONCURRENCY} concurrent clients (requests/s), then an open loop at a "
        f"fixed {RATE:.0f} requests/s (p50/p99 latency). One customer, found by e-mail; the "
        "emulator, the pass-through chain, edge, core and the load generator share the machine. "
        f"The pass-through chain, search, get and the card with offers run in {ROUNDS} "
        "interleaved rounds: their requests/s is the median round's, and each one's share of "
        "the pass-through chain is the median of the rounds' own ratios (range in brackets).",
        "",
        "| path | requests/s @50 | errors | p50 ms @100/s | p99 ms @100/s | errors |",
        "|---|---:|---:|---:|---:|---:|",
        *(_row(name, t, lat) for name, t, lat in results),
        "",
    ]
    for name in (SEARCH, GET, CARD):
        _, lat = by_name[name]
        shares = sorted(ratios[name])
        lines.append(
            f"- {name.split()[0]}: {shares[len(shares) // 2]:.0%} of the pass-through chain "
            f"({shares[0]:.0%}-{shares[-1]:.0%}); p99 {lat.p99_ms - floor_p99:+.1f} ms over the "
            "emulator alone."
        )
    gated, gated_lat = by_name[GATED_GET]
    plain, plain_lat = by_name[GET]
    lines.append(
        f"- get with the offer-count gate, customer without offers (one Bloomreach call instead "
        f"of two): {gated.throughput:,.0f} requests/s, p99 {gated_lat.p99_ms:.1f} ms (without "
        f"the gate, same run: {plain.throughput:,.0f} requests/s, p99 {plain_lat.p99_ms:.1f} ms)."
    )
    lines += _outage_lines(by_name)
    lines += [
        f"- RSS after {rss_before[0]:,} customer requests: edge {rss_before[1]:.0f} MB, core "
        f"{rss_before[2]:.0f} MB"
        + (
            f"; after {served:,}: edge {edge_rss:.0f} MB, core {core_rss:.0f} MB."
            if served > rss_before[0]
            else " (quick run: no 100k soak)."
        ),
        "- Targets: >= 600 requests/s and >= 60% of the pass-through chain; p99 added <= 10 ms "
        "at 100 requests/s; edge and core RSS <= 120 MB each after 100k requests.",
    ]
    return "\n".join(lines)
