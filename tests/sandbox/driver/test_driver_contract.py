"""The driver's statement of Sitoo's contract side by side with the edge's (issue 12).

``sandbox/driver/sitoo_contract.py`` states what Sitoo sends from the vendor specs, on its own;
``edge/spi_contract.py`` is what the edge serves. This test compares them entry by entry and
names every difference. Differences that are understood are listed in ``KNOWN`` with the reason;
anything else — a route, verb, header, status, error code or field that moved on one side —
fails here with its name, and so does a known difference that has gone away.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from edge import spi_contract as edge
from sandbox.driver import sitoo_contract as driver

#: difference -> why it is accepted for now.
KNOWN: dict[str, str] = {}


def _differences() -> list[str]:
    found: list[str] = []
    ours = {r.name: r for r in driver.ALL_ROUTES}
    theirs = {r.name: r for r in edge.ALL_ROUTES}
    for name in sorted(ours.keys() - theirs.keys()):
        route = ours[name]
        found.append(
            f"route {name}: stated by Sitoo's side ({route.method} {route.path}), not served"
        )
    for name in sorted(theirs.keys() - ours.keys()):
        served = theirs[name]
        found.append(
            f"route {name}: served ({served.method} {served.path}), not stated by Sitoo's side"
        )
    for name in sorted(ours.keys() & theirs.keys()):
        a, b = ours[name], theirs[name]
        if (a.method, a.path) != (b.method, b.path):
            found.append(f"route {name}: driver {a.method} {a.path} != edge {b.method} {b.path}")
        if a.source.value != b.confidence.value:
            found.append(f"route {name}: driver says {a.source}, edge says {b.confidence}")
    if driver.INTEGRATION_MOUNT != edge.INTEGRATION_PREFIX:
        found.append(f"mount: {driver.INTEGRATION_MOUNT} != {edge.INTEGRATION_PREFIX}")

    def same(label: str, mine: Any, edges: Any) -> None:
        if mine != edges:
            found.append(f"{label}: driver {mine!r} != edge {edges!r}")

    same(
        "origin headers",
        driver.ORIGIN_HEADERS,
        (edge.STORE_ID_HEADER, edge.STAFF_ID_HEADER, edge.REGISTER_ID_HEADER),
    )
    same("search key types", sorted(driver.SEARCH_KEY_TYPES), sorted(edge.SEARCH_KEY_TYPES))
    same("events per batch", driver.MAX_EVENTS_PER_BATCH, edge.MAX_EVENTS_PER_BATCH)
    same("allowed statuses", sorted(driver.ALLOWED_STATUSES), sorted(edge.ALLOWED_STATUSES))
    for status in sorted(driver.ALLOWED_STATUSES | {418}):
        same(f"error_code for {status}", driver.error_code_for(status), edge.error_code_for(status))
    body = edge.error_body(404, "x", "req-1")
    same("error body keys", sorted(driver.ERROR_BODY_KEYS), sorted(body))
    error_data = body["error_data"]
    assert isinstance(error_data, dict)
    same("error_data keys", sorted(driver.ERROR_DATA_KEYS), sorted(error_data))
    same("customer fields", driver.CUSTOMER_FIELDS, edge.CUSTOMER_FIELDS)
    same(
        "server-owned fields",
        sorted(driver.SERVER_OWNED_FIELDS),
        sorted(edge.SERVER_OWNED_FIELDS),
    )
    same("address fields", driver.ADDRESS_FIELDS, edge.ADDRESS_FIELDS)
    same("channels", driver.CHANNELS, edge.CHANNELS)
    same("lookup omits customer_id", driver.LOOKUP_OMITS_CUSTOMER_ID, edge.LOOKUP_OMITS_CUSTOMER_ID)
    same("consent keys", driver.CONSENT_KEYS, edge.CONSENT_KEYS)
    same("redeem items key", driver.REDEEM_ITEMS_KEY, edge.REDEEM_ITEMS_KEY)
    same("redeem item keys", driver.REDEEM_ITEM_KEYS, edge.REDEEM_ITEM_KEYS)
    for route in driver.CRM_ROUTES:
        if route.name in theirs:
            params = {"customer_id": "c-1"} if "{customer_id}" in route.path else {}
            same(
                f"path of {route.name}",
                driver.integration_path("acme", route, **params),
                edge.integration_path("acme", theirs[route.name], **params),
            )
    return found


def test_the_driver_and_the_edge_state_sitoo_s_contract_alike() -> None:
    found = _differences()
    new = [d for d in found if d not in KNOWN]
    gone = [d for d in KNOWN if d not in found]
    assert not new, "the edge and the driver disagree on Sitoo's contract:\n" + "\n".join(new)
    assert not gone, "known differences that no longer hold (drop them):\n" + "\n".join(gone)


def test_the_comparison_names_a_difference_it_is_given(monkeypatch: Any) -> None:
    moved = edge.SpiRoute(
        "get_customer", "GET", "/customer/{customer_id}", edge.Confidence.INFERRED
    )
    monkeypatch.setattr(
        edge,
        "ALL_ROUTES",
        tuple(moved if r.name == "get_customer" else r for r in edge.ALL_ROUTES),
    )
    monkeypatch.setattr(edge, "MAX_EVENTS_PER_BATCH", 25)
    found = _differences()
    expected = "route get_customer: driver GET /customers/{customer_id} != edge GET /customer/"
    assert expected + "{customer_id}" in found
    assert "events per batch: driver 10 != edge 25" in found


def test_every_driver_entry_names_its_source() -> None:
    for route in driver.ALL_ROUTES:
        assert route.where.startswith(("§", "events §")), route
    documented = {r.name for r in driver.ALL_ROUTES if r.source is driver.Source.DOCUMENTED}
    assert documented == {"search_customers", "add_customer", "events"}


def test_the_driver_learns_nothing_from_the_code_it_tests() -> None:
    driver_dir = Path(driver.__file__).parent
    for path in sorted(driver_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("edge", "core_service")), f"{path.name}: {name}"
