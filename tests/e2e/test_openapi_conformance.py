"""Schemathesis against the running edge: every operation of /openapi.json, generated inputs,
real processes behind it (core and the Bloomreach emulator). No 5xx a server should not give
(Bloomreach is healthy here), and every response matches the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from harness.metrics import sample_value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conformance_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    with customer_stack(tmp_path_factory.mktemp("openapi")) as stack:
        yield stack


def test_edge_conforms_to_its_openapi_document(conformance_stack: CustomerStack) -> None:
    # Driven by hand rather than through schemathesis' pytest plugin, whose fixture support
    # does not work with our pytest version.
    schema = schemathesis.openapi.from_url(f"{conformance_stack.edge_url}/openapi.json")
    auth = requests.auth.HTTPBasicAuth(conformance_stack.username, conformance_stack.password)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    tested = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: Case[Any]) -> None:
            # Aim generated calls at the one configured integration, with its credential,
            # so that they reach the core and Bloomreach instead of stopping at a 401.
            if case.path_parameters and "integration" in case.path_parameters:
                case.path_parameters["integration"] = INTEGRATION
            case.call_and_validate(auth=auth, checks=checks)

        exercise()
        tested.append(operation.label)
    assert len(tested) >= 12, tested
    # The run did reach the customer path, not just the door: count what the core handled.
    metrics = requests.get(
        f"http://{conformance_stack.stack.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics",
        timeout=5,
    ).text
    handled = sum(
        sample_value(metrics, "core_grpc_server_handling_seconds_count", method=m, code=c) or 0
        for m in ("SearchCustomers", "CreateCustomer", "UpdateCustomer", "GetCustomer")
        for c in ("OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS")
    )
    print(f"core handled {handled} customer calls")
    assert handled >= 50
    # Redeem and Undo Redeem (issue 14) reached the core too, not only the edge's checks.
    for method in ("Redeem", "UndoRedeem"):
        answered = sum(
            sample_value(metrics, "core_grpc_server_handling_seconds_count", method=method, code=c)
            or 0
            for c in ("OK", "INVALID_ARGUMENT", "NOT_FOUND")
        )
        assert answered >= 1, method


# Header bytes that pass HTTP parsing (visible ASCII, space, TAB, obs-text 0x80-0xFF) but not
# necessarily the edge's guard: control characters, invalid UTF-8, broken %-escapes.
_HEADER_BYTES = [bytes([b]) for b in (*range(0x20, 0x7F), 0x09, *range(0x80, 0x100))]
_HOSTILE_VALUES = st.one_of(
    st.lists(st.sampled_from(_HEADER_BYTES), min_size=1, max_size=300)
    .map(b"".join)
    .filter(lambda v: v[:1] not in (b" ", b"\t") and v[-1:] not in (b" ", b"\t")),
    st.sampled_from([b"%00", b"%09", b"%ff%fe", b"%ED%A0%80", b"%", b"%C3%B6", b"%41" * 300]),
)
_FUZZED_HEADERS = ("Store-ID", "Staff-ID", "Register-ID", "Authorization")


def test_hostile_headers_conform_on_every_operation(conformance_stack: CustomerStack) -> None:
    """Every SPI operation with one declared header (or the credential) set to hostile bytes
    that HTTP still carries: never a 5xx, and the answer is a documented status with Sitoo's
    error body (the guard's 400 or, for a credential it cannot read, the same)."""
    schema = schemathesis.openapi.from_url(f"{conformance_stack.edge_url}/openapi.json")
    auth = requests.auth.HTTPBasicAuth(conformance_stack.username, conformance_stack.password)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        if "{integration}" not in operation.path:
            continue

        @given(
            case=operation.as_strategy(),
            header=st.sampled_from(_FUZZED_HEADERS),
            value=_HOSTILE_VALUES,
        )
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: Case[Any], header: str, value: bytes) -> None:
            if case.path_parameters and "integration" in case.path_parameters:
                case.path_parameters["integration"] = INTEGRATION
            headers: dict[str, Any] = {**dict(case.headers or {}), header: value}
            response = case.call_and_validate(
                auth=None if header == "Authorization" else auth, headers=headers, checks=checks
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        exercise()
    print(f"hostile headers: statuses {sorted(statuses.items())}")
    # Most values break the guard's rules: the edge refused them itself, as documented.
    assert statuses.get(400, 0) > sum(statuses.values()) // 3


async def test_openapi_lists_every_route(conformance_stack: CustomerStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{conformance_stack.edge_url}/openapi.json") as response,
    ):
        document = await response.json()
    assert document["openapi"].startswith("3.")
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    from edge import spi_contract

    assert {r.name for r in spi_contract.ALL_ROUTES} <= operations
