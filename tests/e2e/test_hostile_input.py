"""Hostile input at the running edge (core and Bloomreach emulator behind it): each request
that used to answer 500 (issue 11, item 1) now answers 400 with Sitoo's error body, or 401
where the credential is checked first. One request each, sent as raw bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from tests.support.raw_http import RawRequest, RawResponse, basic, send

pytestmark = pytest.mark.slow

BASE = f"/sitoo/{INTEGRATION}".encode()
# Every SPI operation, with a body where it takes one.
ROUTES: tuple[tuple[str, bytes, bytes], ...] = (
    ("GET", b"/customers?key_type=email&key=a%40example.com", b""),
    ("POST", b"/customers", b'{"email": "a@example.com"}'),
    ("GET", b"/customers/c1", b""),
    ("PUT", b"/customers/c1", b'{"name_first": "A"}'),
    ("PATCH", b"/customers/c1", b'{"name_first": "A"}'),
    ("GET", b"/customers/c1/transactions?limit=5", b""),
    ("GET", b"/lookup?key=a%40example.com", b""),
    ("GET", b"/consents", b""),
    ("POST", b"/events", b"[]"),
)
DEEP_ARRAY = b"[" * 2000 + b"]" * 2000
DEEP_OBJECT = b'{"a":' * 2000 + b"1" + b"}" * 2000


def _event(event_type: str = "order", **data: object) -> dict[str, object]:
    return {
        "event_id": "e" * 32,
        "event_type": event_type,
        "event_date": 1700000000,
        "account_id": 1,
        "data": data or {"eshop_id": 1, "order_id": 7, "order_event_type": "created"},
    }


@pytest.fixture(scope="module")
def hostile_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    with customer_stack(tmp_path_factory.mktemp("hostile")) as stack:
        yield stack


async def _send(stack: CustomerStack, request: RawRequest) -> RawResponse:
    port = int(stack.stack.env["SITOO_BR_EDGE_PORT"])
    return await send("127.0.0.1", port, request)


def _assert_sitoo_error(response: RawResponse, status: int, request: RawRequest) -> str:
    assert response.status == status, f"{response.status} {response.body[:300]!r}\n" + (
        request.describe()
    )
    body = json.loads(response.body)
    assert body["error_code"] == {400: "bad-request", 401: "unauthorized"}[status]
    assert body["request_id"] == response.headers["x-request-id"]
    message: str = body["error_data"]["message"]
    return message


HOSTILE_HEADERS = (
    (b"Store-ID", b"store\t1"),
    (b"Staff-ID", b"staff\t1"),
    (b"Register-ID", b"till\t1"),
    (b"Store-ID", b"%00store"),  # URL-encoded control character
    (b"Store-ID", b"\xffstore"),  # not UTF-8
    (b"Register-ID", b"%ff%fe"),  # URL-encoded, not UTF-8
)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("authenticated", [True, False])
async def test_hostile_headers_are_a_400_on_every_route(
    hostile_stack: CustomerStack, method: str, path: bytes, body: bytes, authenticated: bool
) -> None:
    s = hostile_stack
    user, password = s.webhook if path == b"/events" else (s.username, s.password)
    credential = basic(user, password if authenticated else "wrong")
    for name, value in HOSTILE_HEADERS:
        request = RawRequest(
            method, BASE + path, ((b"Authorization", credential), (name, value)), body
        )
        message = _assert_sitoo_error(await _send(s, request), 400, request)
        assert name.decode() in message
    # Non-UTF-8 bytes (and control characters) in the credential itself.
    for credential in (b"Basic \xff\xfe", b"Basic a\tb", basic(user, password) + b"\x80"):
        request = RawRequest(method, BASE + path, ((b"Authorization", credential),), body)
        message = _assert_sitoo_error(await _send(s, request), 400, request)
        assert "Authorization" in message


async def test_origin_headers_still_reach_the_core_decoded(hostile_stack: CustomerStack) -> None:
    # The guard re-encodes what it lets through; a URL-encoded non-ASCII store id stays a
    # normal request (not a 400), and so does a literal percent sign.
    s = hostile_stack
    for value in (b"Butik%20S%C3%B6der", b"100%25", b"plain-1"):
        request = RawRequest(
            "GET",
            BASE + b"/consents",
            ((b"Authorization", basic(s.username, s.password)), (b"Store-ID", value)),
        )
        response = await _send(s, request)
        assert response.status == 200, (response.body, request.describe())


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", b"/customers"), ("PUT", b"/customers/c1"), ("PATCH", b"/customers/c1")],
)
async def test_customer_bodies_deep_huge_or_not_unicode_are_a_400(
    hostile_stack: CustomerStack, method: str, path: bytes
) -> None:
    s = hostile_stack
    auth = ((b"Authorization", basic(s.username, s.password)),)
    bodies = {
        DEEP_ARRAY: "nested deeper",
        DEEP_OBJECT: "nested deeper",
        b'{"email": ' + b"9" * 5000 + b"}": "number longer",
        b'{"name_first": 1e999999}': "number",
        b'{"name_first": NaN}': "NaN",
        b'{"name_first": "\\ud800"}': "name_first",
        b'{"invoice_address": {"city": "a\\udfff"}}': "invoice_address.city",
        b'{"consents": ["\\ud800"]}': "consents[0]",
        b'{"name_first": "\xff"}': "not UTF-8",
    }
    for body, hint in bodies.items():
        request = RawRequest(method, BASE + path, auth, body)
        message = _assert_sitoo_error(await _send(s, request), 400, request)
        assert hint in message, message


async def test_webhook_deep_huge_or_not_unicode_is_never_a_500(
    hostile_stack: CustomerStack,
) -> None:
    s = hostile_stack
    bodies = [
        DEEP_ARRAY,
        DEEP_OBJECT,
        json.dumps([_event()]).replace('"order_id": 7', '"order_id": ' + "7" * 5000).encode(),
        json.dumps([_event("\ud800")]).encode(),
        b'[{"event_id": "\xff"}]',
    ]
    for body in bodies:
        # Unauthenticated: the core checks the credential before anything is kept.
        wrong = ((b"Authorization", basic(s.webhook[0], "wrong")),)
        request = RawRequest("POST", BASE + b"/events", wrong, body)
        _assert_sitoo_error(await _send(s, request), 401, request)
        # Authenticated: quarantined and refused.
        right = ((b"Authorization", basic(*s.webhook)),)
        request = RawRequest("POST", BASE + b"/events", right, body)
        _assert_sitoo_error(await _send(s, request), 400, request)
    # An unknown event type's data is opaque: kept as escaped JSON, so a lone surrogate
    # inside it is harmless and the event is taken (a 400 would drop its whole batch).
    body = json.dumps([_event("custom", note="\udc00")]).encode()
    request = RawRequest("POST", BASE + b"/events", ((b"Authorization", basic(*s.webhook)),), body)
    response = await _send(s, request)
    assert response.status == 200, (response.body, request.describe())


@pytest.mark.parametrize(
    "limit", [b"%C2%B2", b"9" * 5000, b"%EF%BC%91", b"-1", b"+1", b"1.0", b"", b"101", b"%201"]
)
async def test_transactions_limit_is_strict_ascii_digits(
    hostile_stack: CustomerStack, limit: bytes
) -> None:
    s = hostile_stack
    request = RawRequest(
        "GET",
        BASE + b"/customers/c1/transactions?limit=" + limit,
        ((b"Authorization", basic(s.username, s.password)),),
    )
    message = _assert_sitoo_error(await _send(s, request), 400, request)
    assert "limit" in message


async def test_path_and_query_strings_that_are_not_unicode_are_a_400(
    hostile_stack: CustomerStack,
) -> None:
    # yarl decodes %ED%A0%80 (an encoded surrogate) to U+FFFD, so these reach the views as
    # valid text; what matters is that none of them is a 500.
    s = hostile_stack
    auth = ((b"Authorization", basic(s.username, s.password)),)
    for path in (
        b"/customers/%ED%A0%80",
        b"/customers/%ED%A0%80/transactions",
        b"/customers?key_type=email&key=%ED%A0%80",
        b"/lookup?key=%ff%00",
    ):
        request = RawRequest("GET", BASE + path, auth)
        response = await _send(s, request)
        assert response.status < 500, (response.status, response.body, request.describe())
