"""Schemathesis against the running edge: every operation of /openapi.json, generated inputs,
real processes behind it (core and the Bloomreach emulator). No 5xx a server should not give
(Bloomreach is healthy here), and every response matches the document."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.case import Case

from tests.support.customer_stack import INTEGRATION, CustomerStack, customer_stack
from tests.support.metrics import sample_value

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
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: Case) -> None:
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
