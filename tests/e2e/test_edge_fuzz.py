"""Seeded fuzzing of every edge route against the real running edge and core (Bloomreach
emulator behind them): hostile headers, deep JSON, huge numbers, lone surrogates, invalid
UTF-8 bodies, huge and odd query strings and paths. No request may answer 500, and the
Events SPI webhook may answer no 5xx but the retryable 503 and 504 (issue 11, item 1).

Deterministic: the seed (``FUZZ_SEED``, default below) fixes every request, and a failure
prints the requests that reproduce it. ``FUZZ_REQUESTS`` sets how many are sent."""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.customer_stack import INTEGRATION, CustomerStack, customer_stack
from tests.support.raw_http import RawRequest, RawResponse, basic, send

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "1500"))
CONCURRENCY = 8

CUSTOMER: dict[str, Any] = {
    "member_number": "M-1",
    "email": "fuzz@example.com",
    "name_first": "Anna",
    "name_last": "Svensson",
    "mobile": "+46701112233",
    "invoice_address": {"address": "Storgatan 1", "zip": "11122", "city": "Stockholm"},
    "accepts_communication": ["email"],
    "consents": ["newsletter"],
    "additional_options": [{"id": "size", "enum_values": ["m"]}],
}
EVENT: dict[str, Any] = {
    "event_id": "5e9fd002119a4c5fb4de5ccb9d0b90ea",
    "event_type": "order",
    "event_date": 1611138542,
    "account_id": 1,
    "data": {"eshop_id": 1, "order_id": 12345, "order_event_type": "update"},
}
# (method, path template relative to the integration, takes a body)
ROUTES = (
    ("GET", "/customers?key_type={key_type}&key={key}", None),
    ("POST", "/customers", "customer"),
    ("GET", "/customers/{customer_id}", None),
    ("PUT", "/customers/{customer_id}", "customer"),
    ("PATCH", "/customers/{customer_id}", "customer"),
    ("GET", "/customers/{customer_id}/transactions?limit={limit}", None),
    ("GET", "/lookup?key_type={key_type}&key={key}", None),
    ("GET", "/consents", None),
    ("POST", "/events", "events"),
)
PROBES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nowhere")

HOSTILE_TEXT: tuple[bytes, ...] = (
    b"a\tb",
    b"\x7f",
    b"%00",
    b"%09x",
    b"%C2%85",
    b"%ff%fe",
    b"%ED%A0%80",
    b"\xff\xfe",
    b"\xc3\xa9t\xc3\xa9",
    b"%25%25",
    b"%",
    b"x" * 300,
    b"%41" * 300,
    b" ",
    b"Butik%20S%C3%B6der",
)
QUERY_JUNK: tuple[bytes, ...] = (
    b"%C2%B2",
    b"%EF%BC%91",
    b"9" * 5000,
    b"-1",
    b"1e3",
    b"%ED%A0%80",
    b"%00",
    b"%ff",
    b"a&key=b&key=c",
    b"x" * 7000,
    b"",
    b"%2",
)


def _deep(rng: random.Random) -> bytes:
    depth = rng.choice((31, 32, 33, 100, 999, 1001, 2000, 5000))
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    if rng.random() < 0.5:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"a":[' * depth  # unterminated


def _surrogate_json(value: Any, rng: random.Random) -> Any:
    """``value`` with a lone surrogate in one of its strings (keys included)."""
    if isinstance(value, dict):
        if value and rng.random() < 0.8:
            key = rng.choice(list(value))
            return {**value, key: _surrogate_json(value[key], rng)}
        return {**value, rng.choice(("\ud800", "\udfff")): "x"}
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _surrogate_json(value[index], rng), *value[index + 1 :]]
    return rng.choice(("\ud800", "a\udc00b", "\udbff"))


def _huge_number(value: Any, rng: random.Random) -> bytes:
    text = json.dumps(value)
    number = rng.choice(
        (b"9" * rng.choice((41, 4300, 4301, 5000)), b"1e999", b"-1e999", b"NaN", b"Infinity")
    )
    target = rng.choice(('"Anna"', "12345", "1611138542", '"fuzz@example.com"', '"update"'))
    if target in text:
        return text.replace(target, number.decode(), 1).encode()
    return b"[" + number + b"]"


def _bad_utf8(body: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(body) + 1)
    return body[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80")) + body[at:]


def _body(kind: str, rng: random.Random) -> bytes:
    value: Any = CUSTOMER if kind == "customer" else [EVENT] * rng.randint(1, 10)
    valid = json.dumps(value).encode()
    mutate: Callable[[], bytes] = rng.choice(
        (
            lambda: valid,
            lambda: _deep(rng),
            lambda: json.dumps(_surrogate_json(value, rng)).encode(),
            lambda: _huge_number(value, rng),
            lambda: _bad_utf8(valid, rng),
            lambda: valid[: rng.randrange(len(valid))],
            lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))),
            lambda: b"\xef\xbb\xbf" + valid,
            lambda: valid.decode().encode("utf-16"),
        )
    )
    return mutate()


def _query_value(rng: random.Random, valid: bytes) -> bytes:
    return valid if rng.random() < 0.5 else rng.choice(QUERY_JUNK)


def _request(stack: CustomerStack, rng: random.Random) -> RawRequest:
    headers: list[tuple[bytes, bytes]] = []
    if rng.random() < 0.1:
        path = rng.choice(PROBES).encode()
        if rng.random() < 0.3:
            path += b"?" + rng.choice(QUERY_JUNK)
        method, body = "GET", b""
    else:
        method, template, kind = rng.choice(ROUTES)
        integration = INTEGRATION.encode() if rng.random() < 0.85 else rng.choice(HOSTILE_TEXT)
        path = (
            b"/sitoo/"
            + integration
            + template.encode()
            .replace(b"{key_type}", _query_value(rng, rng.choice((b"email", b"member_number"))))
            .replace(b"{key}", _query_value(rng, b"fuzz%40example.com"))
            .replace(b"{limit}", _query_value(rng, str(rng.randint(0, 100)).encode()))
            .replace(b"{customer_id}", _query_value(rng, b"c-1"))
        )
        body = _body(kind, rng) if kind is not None else b""
        user, password = stack.webhook if kind == "events" else (stack.username, stack.password)
        auth = rng.random()
        if auth < 0.6:
            headers.append((b"Authorization", basic(user, password)))
        elif auth < 0.75:
            headers.append((b"Authorization", basic(user, "wrong")))
        elif auth < 0.95:
            headers.append((b"Authorization", b"Basic " + rng.choice(HOSTILE_TEXT)))
    for name in (b"Store-ID", b"Staff-ID", b"Register-ID", b"X-Request-ID", b"Content-Type"):
        if rng.random() < 0.3:
            headers.append((name, rng.choice(HOSTILE_TEXT)))
    return RawRequest(method, path, tuple(headers), body)


def _failure(request: RawRequest, response: RawResponse) -> str | None:
    webhook = request.method == "POST" and request.path.split(b"?")[0].endswith(b"/events")
    if response.status == 500 or (
        webhook and response.status >= 500 and response.status not in (503, 504)
    ):
        return f"{response.status} {response.body[:200]!r}\n{request.describe()}"
    return None


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    with customer_stack(tmp_path_factory.mktemp("fuzz")) as stack:
        yield stack


async def test_no_input_makes_the_edge_answer_500(fuzz_stack: CustomerStack) -> None:
    rng = random.Random(SEED)
    requests = [_request(fuzz_stack, rng) for _ in range(REQUESTS)]
    port = int(fuzz_stack.stack.env["SITOO_BR_EDGE_PORT"])
    gate = asyncio.Semaphore(CONCURRENCY)
    statuses: dict[int, int] = {}

    async def one(request: RawRequest) -> str | None:
        async with gate:
            response = await send("127.0.0.1", port, request)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        return _failure(request, response)

    failures = [f for f in await asyncio.gather(*(one(r) for r in requests)) if f]
    print(f"seed {SEED}: {REQUESTS} requests, statuses {sorted(statuses.items())}")
    assert not failures, (
        f"{len(failures)} of {REQUESTS} requests failed (FUZZ_SEED={SEED}); the first ones:\n"
        + "\n\n".join(failures[:5])
    )
    # Nor did the webhook's 503 net hide a bug: the edge logged none.
    edge = fuzz_stack.stack.edge
    assert edge is not None and edge.stderr_path is not None
    assert "unhandled error" not in edge.stderr_path.read_text(errors="replace")
    # The run reached past the door: successes and refusals of each kind.
    assert statuses.get(200, 0) > REQUESTS // 20
    assert statuses.get(400, 0) > REQUESTS // 5
    assert statuses.get(401, 0) > 0
