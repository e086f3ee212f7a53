"""The edge's SPI contract, in process: its real aiohttp app (``edge.app.init_app``) under
aiohttp's test client, talking gRPC to an in-memory core (``tests.support.fake_core``).

What needs real processes (the real core's authentication, the database, restarts) stays in
``tests/e2e``; these cover what the edge alone decides: status codes, Sitoo's error body,
headers, input checks, and the gRPC status -> HTTP mapping.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import aiohttp
import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge import spi_contract
from edge.app import init_app
from edge.errors import GRPC_TO_HTTP
from runtime.settings import Settings
from sitoo_bloomreach.v1 import customers_pb2 as cpb
from sitoo_bloomreach.v1 import order_events_pb2 as epb
from tests.support.fake_core import Failure, FakeCore, fake_core

Client = TestClient[web.Request, web.Application]
BASIC = aiohttp.encode_basic_auth("pos", "secret")
AUTH = {"Authorization": BASIC}
BASE = "/sitoo/shop"
MAX_BODY = 8192


@pytest.fixture
async def core() -> AsyncIterator[FakeCore]:
    async with fake_core() as running:
        yield running


@pytest.fixture
async def edge(core: FakeCore) -> AsyncIterator[Client]:
    settings = Settings(
        core_target=core.target,
        service_token=core.state.token,
        edge_max_body_bytes=MAX_BODY,
        edge_core_deadline_seconds=5.0,
    )
    async with TestClient(TestServer(init_app(settings))) as client:
        yield client


def assert_sitoo_error(body: Any, status: int, request_id: str | None = None) -> str:
    """Sitoo's error object, with the error code the status calls for; returns the message."""
    assert set(body) == {"request_id", "error_code", "error_data"}, body
    assert body["error_code"] == spi_contract.error_code_for(status)
    if request_id is not None:
        assert body["request_id"] == request_id
    message = body["error_data"]["message"]
    assert isinstance(message, str) and message
    return message


def an_event(event_id: str = "0" * 32) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "order",
        "event_date": 1_700_000_000,
        "account_id": 1500,
        "data": {"eshop_id": 1, "order_id": 42, "order_event_type": "created"},
    }


# ---- probes ----


async def test_liveness_does_not_ask_the_core(edge: Client, core: FakeCore) -> None:
    await core.set_serving(False)
    response = await edge.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readiness_follows_the_cores_health_and_is_a_metric(
    edge: Client, core: FakeCore
) -> None:
    assert (await edge.get("/readyz")).status == 200
    await core.set_serving(False)
    response = await edge.get("/readyz")
    assert response.status == 503
    assert await response.json() == {"status": "core unavailable"}
    metrics = await (await edge.get("/metrics")).text()
    assert "edge_core_ready 0.0" in metrics


# ---- authentication and request ids ----


async def test_no_credentials_is_401_without_calling_the_core(edge: Client, core: FakeCore) -> None:
    response = await edge.get(f"{BASE}/customers", params={"key_type": "email", "key": "a@b.se"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert_sitoo_error(await response.json(), 401, response.headers["X-Request-ID"])
    assert core.state.calls == []
    metrics = await (await edge.get("/metrics")).text()
    assert 'edge_auth_failures_total{route="/sitoo/{integration}/customers"} 1.0' in metrics


async def test_caller_credentials_request_id_and_origin_travel_to_the_core(
    edge: Client, core: FakeCore
) -> None:
    headers = {
        **AUTH,
        "X-Request-ID": "pos-req-1",
        "Store-ID": "St%C3%B6re%201",  # Sitoo URL-encodes origin headers
        "Staff-ID": "staff-7",
    }
    response = await edge.get(f"{BASE}/consents", headers=headers)
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "pos-req-1"
    request, metadata = core.state.last("ListConsents")
    assert isinstance(request, cpb.ListConsentsRequest)
    assert request.integration == "shop"
    assert metadata["x-sitoo-authorization"] == BASIC
    assert metadata["x-request-id"] == "pos-req-1"
    # Non-ASCII travels percent-encoded (gRPC metadata is ASCII) and the core unquotes it once.
    assert metadata["x-sitoo-store-id"].isascii()
    assert unquote(metadata["x-sitoo-store-id"]) == "Störe 1"
    assert metadata["x-sitoo-staff-id"] == "staff-7"
    assert "x-sitoo-register-id" not in metadata


async def test_an_unsafe_request_id_is_replaced(edge: Client, core: FakeCore) -> None:
    response = await edge.get(f"{BASE}/consents", headers={**AUTH, "X-Request-ID": "a b\u00e9"})
    assert response.status == 200
    issued = response.headers["X-Request-ID"]
    assert issued != "a b\u00e9" and len(issued) == 36  # a fresh UUID
    assert core.state.last("ListConsents")[1]["x-request-id"] == issued


async def test_a_wrong_service_token_is_the_edges_problem_not_the_callers(
    core: FakeCore,
) -> None:
    settings = Settings(core_target=core.target, service_token="not-the-token")
    async with TestClient(TestServer(init_app(settings))) as client:
        response = await client.get(f"{BASE}/consents", headers=AUTH)
        body = await response.json()
    # The core refuses the edge itself (UNAUTHENTICATED): the caller sees 401 as for its own
    # credentials, and nothing about the token.
    assert response.status == 401
    message = assert_sitoo_error(body, 401)
    assert "not-the-token" not in message


# ---- the customer SPI ----


async def test_search_finds_and_renders_every_documented_field(
    edge: Client, core: FakeCore
) -> None:
    core.state.customers["c1"] = cpb.Customer(customer_id="c1", email="a@b.se", name_first="Ann")
    response = await edge.get(
        f"{BASE}/customers", params={"key_type": "email", "key": "a@b.se"}, headers=AUTH
    )
    assert response.status == 200
    body = await response.json()
    assert [c["customer_id"] for c in body] == ["c1"]
    assert set(body[0]) == set(spi_contract.CUSTOMER_FIELDS)
    assert body[0]["name_first"] == "Ann"


@pytest.mark.parametrize(
    "params",
    [
        {"key": "a@b.se"},  # key_type missing
        {"key_type": "shoe_size", "key": "42"},  # not a search key type
        {"key_type": "email"},  # key missing
        {"key_type": "email", "key": "   "},  # key blank
        {"key_type": "email", "key": "x" * (spi_contract.MAX_KEY_LENGTH + 1)},
    ],
)
async def test_bad_search_queries_are_400_and_never_reach_the_core(
    edge: Client, core: FakeCore, params: dict[str, str]
) -> None:
    response = await edge.get(f"{BASE}/customers", params=params, headers=AUTH)
    assert response.status == 400
    assert_sitoo_error(await response.json(), 400, response.headers["X-Request-ID"])
    assert core.state.calls == []


async def test_add_and_update_carry_the_parsed_customer(edge: Client, core: FakeCore) -> None:
    created = await edge.post(
        f"{BASE}/customers", json={"email": "new@b.se", "name_first": "Bo"}, headers=AUTH
    )
    assert created.status == 200
    customer_id = (await created.json())["customer_id"]
    request, _ = core.state.last("CreateCustomer")
    assert isinstance(request, cpb.CreateCustomerRequest)
    assert (request.customer.email, request.customer.name_first) == ("new@b.se", "Bo")

    for method in ("PUT", "PATCH"):
        updated = await edge.request(
            method, f"{BASE}/customers/{customer_id}", json={"name_last": method}, headers=AUTH
        )
        assert updated.status == 200
        assert (await updated.json())["name_last"] == method
        request, _ = core.state.last("UpdateCustomer")
        assert isinstance(request, cpb.UpdateCustomerRequest)
        assert request.customer_id == customer_id


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"a string"', b'{"invoice_address": "Main St 1"}']
)
async def test_a_malformed_customer_is_400_and_never_reaches_the_core(
    edge: Client, core: FakeCore, raw: bytes
) -> None:
    response = await edge.post(f"{BASE}/customers", data=raw, headers=AUTH)
    assert response.status == 400
    assert_sitoo_error(await response.json(), 400)
    assert core.state.calls == []


async def test_a_body_over_the_limit_is_a_400_in_sitoos_terms(edge: Client) -> None:
    response = await edge.post(
        f"{BASE}/customers", data=b'{"email": "' + b"x" * MAX_BODY + b'"}', headers=AUTH
    )
    assert response.status == 400  # Sitoo lists no 413
    assert str(MAX_BODY) in assert_sitoo_error(await response.json(), 400)


async def test_unknown_customer_is_404_with_the_cores_message(edge: Client) -> None:
    response = await edge.get(f"{BASE}/customers/nobody", headers=AUTH)
    assert response.status == 404
    assert assert_sitoo_error(await response.json(), 404) == "customer not found"


@pytest.mark.parametrize("limit", ["-1", "abc", str(spi_contract.TRANSACTIONS_MAX_LIMIT + 1)])
async def test_transactions_limit_is_checked(edge: Client, core: FakeCore, limit: str) -> None:
    response = await edge.get(
        f"{BASE}/customers/c1/transactions", params={"limit": limit}, headers=AUTH
    )
    assert response.status == 400
    assert_sitoo_error(await response.json(), 400)
    assert core.state.calls == []


async def test_transactions_and_consents_render_the_cores_answer(
    edge: Client, core: FakeCore
) -> None:
    core.state.purchases = [
        cpb.Purchase(purchase_id="p2", currency="SEK"),
        cpb.Purchase(purchase_id="p1", currency="SEK"),
    ]
    core.state.consents = [cpb.ConsentDefinition(consent_id="newsletter", name="Newsletter")]
    response = await edge.get(
        f"{BASE}/customers/c1/transactions", params={"limit": "1"}, headers=AUTH
    )
    assert response.status == 200
    assert [p["purchase_id"] for p in await response.json()] == ["p2"]
    consents = await (await edge.get(f"{BASE}/consents", headers=AUTH)).json()
    assert [c[spi_contract.CONSENT_KEYS[0]] for c in consents] == ["newsletter"]


async def test_lookup_answers_prefill_objects(edge: Client, core: FakeCore) -> None:
    core.state.customers["c1"] = cpb.Customer(customer_id="c1", mobile="+46701234567")
    response = await edge.get(f"{BASE}/lookup", params={"key": "+46701234567"}, headers=AUTH)
    assert response.status == 200
    (found,) = await response.json()
    assert found["mobile"] == "+46701234567"
    assert ("customer_id" in found) is not spi_contract.LOOKUP_OMITS_CUSTOMER_ID


async def test_an_unknown_path_is_a_sitoo_404(edge: Client) -> None:
    response = await edge.get(f"{BASE}/nothing-here", headers=AUTH)
    assert response.status == 404
    assert_sitoo_error(await response.json(), 404, response.headers["X-Request-ID"])


# ---- gRPC status -> HTTP ----

# Written out rather than read from edge.errors, so a change to the table fails here.
EXPECTED_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.ALREADY_EXISTS: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.ABORTED: 503,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.DATA_LOSS: 500,
}
FAILURES = list(EXPECTED_STATUS)


def test_the_table_covers_every_failure_code() -> None:
    assert set(EXPECTED_STATUS) == set(grpc.StatusCode) - {grpc.StatusCode.OK}
    assert {k: v for k, v in GRPC_TO_HTTP.items() if k != grpc.StatusCode.OK} == EXPECTED_STATUS


@pytest.mark.parametrize("code", FAILURES, ids=lambda code: code.name)
async def test_every_grpc_status_maps_to_its_http_status(
    edge: Client, core: FakeCore, code: grpc.StatusCode
) -> None:
    core.state.failure = Failure(code, "core says: internal detail")
    response = await edge.get(f"{BASE}/customers/c1", headers=AUTH)
    status = EXPECTED_STATUS[code]
    assert response.status == status
    message = assert_sitoo_error(await response.json(), status)
    if status in (500, 503, 504):
        # The core's words stay in our logs; the caller learns the kind of failure.
        assert "internal detail" not in message
    elif status < 500:
        assert message == "core says: internal detail"
    assert ("Retry-After" in response.headers) is (status in (429, 503))


@pytest.mark.parametrize("reason", ["upstream-misconfigured", "upstream-rejected"])
async def test_an_upstream_reason_is_a_bad_gateway_with_the_operators_hint(
    edge: Client, core: FakeCore, reason: str
) -> None:
    core.state.failure = Failure(grpc.StatusCode.INTERNAL, "Bloomreach refused the API key", reason)
    response = await edge.get(f"{BASE}/customers/c1", headers=AUTH)
    assert response.status == 502
    assert assert_sitoo_error(await response.json(), 502) == "Bloomreach refused the API key"


# ---- the Events SPI ----


async def test_a_valid_batch_is_parsed_forwarded_and_answered_with_an_empty_200(
    edge: Client, core: FakeCore
) -> None:
    raw = json.dumps([an_event("a" * 32), an_event("b" * 32)]).encode()
    response = await edge.post(f"{BASE}/events", data=raw, headers=AUTH)
    assert response.status == 200
    assert await response.read() == b""
    request, _ = core.state.last("IngestEvents")
    assert isinstance(request, epb.IngestEventsRequest)
    assert request.raw_body == raw
    assert [e.event_id for e in request.events] == ["a" * 32, "b" * 32]
    assert request.events[0].order.order_id == 42
    assert not request.validation_error


@pytest.mark.parametrize("raw", [b"{oops", b"[]", json.dumps([an_event()] * 11).encode()])
async def test_a_malformed_batch_goes_to_the_core_to_be_quarantined_then_400(
    edge: Client, core: FakeCore, raw: bytes
) -> None:
    response = await edge.post(f"{BASE}/events", data=raw, headers=AUTH)
    assert response.status == 400
    assert_sitoo_error(await response.json(), 400)
    request, _ = core.state.last("IngestEvents")
    assert isinstance(request, epb.IngestEventsRequest)
    # Forwarded with the reason, so the core authenticates the sender before storing it.
    assert request.validation_error and request.raw_body == raw


@pytest.mark.parametrize(
    "code",
    [c for c in FAILURES if EXPECTED_STATUS[c] >= 500],
    ids=lambda code: code.name,
)
async def test_the_webhook_never_answers_a_status_sitoo_would_drop(
    edge: Client, core: FakeCore, code: grpc.StatusCode
) -> None:
    core.state.failure = Failure(code, "detail", "upstream-misconfigured")
    response = await edge.post(f"{BASE}/events", json=[an_event()], headers=AUTH)
    # Sitoo retries 429, 503 and 504 only; anything else would lose the event.
    assert response.status in (503, 504)
    assert_sitoo_error(await response.json(), response.status)
