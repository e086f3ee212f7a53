"""PosClient against a real HTTP receiver playing the edge's CRM SPI."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

import pytest

from edge.spi_contract import (
    ADD_CUSTOMER,
    CONSENTS,
    CUSTOMER_TRANSACTIONS,
    LOOKUP,
    REDEEM,
    REGISTER_ID_HEADER,
    SEARCH_CUSTOMERS,
    STAFF_ID_HEADER,
    STORE_ID_HEADER,
    UNDO_REDEEM,
    error_body,
    integration_path,
)
from sandbox.driver.pos_client import (
    Origin,
    PosClient,
    SpiConnectionError,
    encode_header_value,
    error_body_problems,
)
from sandbox.driver.receiver import HANG, Receiver, Reply

ReceiverFactory = Callable[..., Awaitable[Receiver]]
CUSTOMER = {"customer_id": "anna@example.com", "email": "anna@example.com", "name_first": "Anna"}


def client(url: str, **kwargs: object) -> PosClient:
    return PosClient(url, "acme", "spi-user", "spi-sëcret", **kwargs)  # type: ignore[arg-type]


def test_encode_header_value_is_utf8_percent_encoding() -> None:
    assert encode_header_value("Göteborg Östra #1") == "G%C3%B6teborg%20%C3%96stra%20%231"
    assert encode_header_value("S-200_a.b") == "S%2D200%5Fa%2Eb"
    assert encode_header_value("abc123") == "abc123"
    for value in ("Göteborg Östra #1", "kassa+1/2", "名前", "a%20b"):
        assert unquote(encode_header_value(value)) == value


async def test_search_sends_encoded_query_headers_and_basic_auth(
    start_receiver: ReceiverFactory,
) -> None:
    receiver = await start_receiver(script=[Reply(200, [CUSTOMER]), Reply(200, [])])
    origin = Origin(store_id="Göteborg Östra", staff_id="kalle+anka@x", register_id="{3CCB-98}")
    async with client(receiver.url, origin=origin) as pos:
        hit = await pos.search("mobile", "+46701112233")
        miss = await pos.search("email", "Zoë Ång@example.com")

    assert hit.ok and hit.conforms and hit.body == [CUSTOMER]
    assert miss.ok and miss.conforms and miss.body == []
    first, second = receiver.records
    base = integration_path("acme", SEARCH_CUSTOMERS)
    assert first.method == "GET"
    assert first.raw_path == f"{base}?key_type=mobile&key=%2B46701112233"
    assert second.raw_path == f"{base}?key_type=email&key=Zo%C3%AB%20%C3%85ng%40example.com"
    expected = "Basic " + base64.b64encode("spi-user:spi-sëcret".encode()).decode()
    for record in receiver.records:
        assert record.headers["Authorization"] == expected
        assert record.headers[STORE_ID_HEADER] == "G%C3%B6teborg%20%C3%96stra"
        assert record.headers[STAFF_ID_HEADER] == "kalle%2Banka%40x"
        assert record.headers[REGISTER_ID_HEADER] == "%7B3CCB%2D98%7D"
        assert unquote(record.headers[STORE_ID_HEADER]) == "Göteborg Östra"


async def test_origin_headers_optional_and_overridable(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(default=Reply(200, []))
    async with client(receiver.url) as pos:
        await pos.search("member_number", "10012")
        await pos.search("member_number", "10012", origin=Origin(register_id="R 1"))
    assert not {STORE_ID_HEADER, STAFF_ID_HEADER, REGISTER_ID_HEADER} & set(
        receiver.records[0].headers
    )
    assert receiver.records[1].headers[REGISTER_ID_HEADER] == "R%201"
    assert STORE_ID_HEADER not in receiver.records[1].headers


async def test_wrong_and_missing_credentials(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(default=Reply(401, error_body(401, "no")))
    async with client(receiver.url) as pos:
        none = await pos.search("email", "a@b.c", auth=False)
        wrong = await pos.search("email", "a@b.c", auth=("spi-user", "wrong"))
    assert "Authorization" not in receiver.records[0].headers
    assert (
        receiver.records[1].headers["Authorization"]
        == "Basic " + base64.b64encode(b"spi-user:wrong").decode()
    )
    assert none.status == wrong.status == 401
    assert none.conforms and wrong.conforms


async def test_every_operation_uses_the_contract_routes(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(
        script=[
            Reply(200, CUSTOMER),  # create
            Reply(200, CUSTOMER),  # get
            Reply(200, CUSTOMER),  # update
            Reply(200, CUSTOMER),  # patch
            Reply(200, [{"email": "x@y.z"}]),  # lookup
            Reply(200, [{"id": "consent_personal_offers", "name": "Offers"}]),  # consents
            Reply(200, [{"order_id": 1}]),  # transactions
        ]
    )
    async with client(receiver.url) as pos:
        results = [
            await pos.create({"email": "anna@example.com"}),
            await pos.get("anna@example.com"),
            await pos.update("anna@example.com", {"name_first": "Anna"}),
            await pos.update("anna@example.com", {"name_first": "Anna"}, patch=True),
            await pos.lookup("19860515-1234", "personal_id"),
            await pos.consents(),
            await pos.transactions("anna@example.com"),
        ]
    assert all(r.ok and r.conforms for r in results), [r.problems for r in results]
    calls = [(r.method, r.raw_path) for r in receiver.records]
    cid = "anna%40example.com"
    assert calls == [
        ("POST", integration_path("acme", ADD_CUSTOMER)),
        ("GET", f"/sitoo/acme/customers/{cid}"),
        ("PUT", f"/sitoo/acme/customers/{cid}"),
        ("PATCH", f"/sitoo/acme/customers/{cid}"),
        ("GET", integration_path("acme", LOOKUP) + "?key=19860515-1234&key_type=personal_id"),
        ("GET", integration_path("acme", CONSENTS)),
        ("GET", integration_path("acme", CUSTOMER_TRANSACTIONS, customer_id=cid)),
    ]
    assert receiver.records[0].body == {"email": "anna@example.com"}
    assert receiver.records[0].headers["Content-Type"] == "application/json"
    assert receiver.records[2].body == {"name_first": "Anna"}


async def test_redeem_and_undo_post_the_items_and_expect_the_card(
    start_receiver: ReceiverFactory,
) -> None:
    card = {**CUSTOMER, "promotions": [{"promotion_id": "p1", "redeemed": True}]}
    receiver = await start_receiver(
        script=[
            Reply(200, card),
            Reply(400, error_body(400, "items[0]: already redeemed")),
            Reply(200, CUSTOMER),
            Reply(200, [CUSTOMER]),
        ]
    )
    items = [("promotion_id", "p1"), ("bonus_check_id", "b 1")]
    async with client(receiver.url) as pos:
        redeemed = await pos.redeem("anna@example.com", items)
        twice = await pos.redeem("anna@example.com", items[:1])
        undone = await pos.undo_redeem("anna@example.com", items[1:])
        not_a_card = await pos.redeem("anna@example.com", [], body=[{"promotion_id": "p1"}])
    assert redeemed.ok and redeemed.conforms and redeemed.body == card
    assert twice.status == 400 and twice.conforms
    assert undone.ok and undone.conforms
    assert "body-invalid: expected a customer object" in not_a_card.problems
    cid = "anna%40example.com"
    assert [(r.method, r.raw_path) for r in receiver.records] == [
        ("POST", integration_path("acme", REDEEM, customer_id=cid)),
        ("POST", integration_path("acme", REDEEM, customer_id=cid)),
        ("POST", integration_path("acme", UNDO_REDEEM, customer_id=cid)),
        ("POST", integration_path("acme", REDEEM, customer_id=cid)),
    ]
    assert [r.body for r in receiver.records] == [
        {"items": [{"promotion_id": "p1"}, {"bonus_check_id": "b 1"}]},
        {"items": [{"promotion_id": "p1"}]},
        {"items": [{"bonus_check_id": "b 1"}]},
        [{"promotion_id": "p1"}],
    ]


async def test_error_body_validation_flags_a_bad_body(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(
        script=[
            Reply(400, error_body(400, "unknown key_type")),
            Reply(400, {"error": "bad key"}),
            Reply(404, error_body(400, "wrong code for a 404")),
            Reply(503, raw="<html>Service Unavailable</html>"),
            Reply(500, error_body(500, "boom")),
        ]
    )
    async with client(receiver.url) as pos:
        good = await pos.search("shoe_size", "42")
        bad = await pos.search("shoe_size", "42")
        mismatch = await pos.get("nobody")
        html = await pos.consents()
        other = await pos.consents()

    assert good.status == 400 and good.conforms
    assert not bad.conforms
    assert any(p.startswith("error-body-invalid") for p in bad.problems)
    assert any("expected 'not-found'" in p for p in mismatch.problems)
    assert "body-not-json" in html.problems and html.status == 503
    assert other.conforms  # 500 -> error_code "other"


def test_error_body_problems_details() -> None:
    assert error_body_problems(429, error_body(429, "slow down")) == []
    assert error_body_problems(502, error_body(502, "x")) == []
    problems = error_body_problems(401, {"request_id": "", "error_code": "unauthorized"})
    assert "error-body-invalid: missing or non-string request_id" in problems
    assert "error-body-invalid: missing error_data object" in problems
    assert error_body_problems(400, ["not", "an", "object"]) == [
        "error-body-invalid: not a JSON object"
    ]


async def test_status_outside_documented_set_flagged(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(
        script=[Reply(409, error_body(409, "exists")), Reply(201, CUSTOMER)]
    )
    async with client(receiver.url) as pos:
        conflict = await pos.create({"email": "anna@example.com"})
        created = await pos.create({"email": "anna@example.com"})
    assert "status-not-documented: 409" in conflict.problems
    assert "status-not-documented: 201" in created.problems
    assert not created.ok


async def test_search_contract_violations_flagged(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(
        script=[
            Reply(404, error_body(404, "nobody")),
            Reply(200, [CUSTOMER, CUSTOMER]),
            Reply(200, CUSTOMER),
            Reply(200, [{"email": "no-id@example.com"}]),
        ]
    )
    async with client(receiver.url) as pos:
        as_404 = await pos.search("email", "x@y.z")
        two = await pos.search("email", "x@y.z")
        not_list = await pos.search("email", "x@y.z")
        no_id = await pos.search("email", "x@y.z")
    assert any(p.startswith("search-miss-as-404") for p in as_404.problems)
    assert "body-invalid: expected 0 or 1 hits, got 2" in two.problems
    assert "body-invalid: expected a JSON array" in not_list.problems
    assert "body-invalid: customer without a string customer_id" in no_id.problems


async def test_timeout_reported_not_raised(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(script=[HANG, Reply(200, [])])
    async with client(receiver.url, timeout_s=0.2) as pos:
        slow = await pos.search("email", "a@b.c")
        fast = await pos.search("email", "a@b.c")
    assert slow.timed_out and slow.status == 0 and not slow.ok
    assert slow.problems and slow.problems[0].startswith("timeout")
    assert fast.ok and fast.conforms


async def test_unreachable_edge_raises() -> None:
    async with client("http://127.0.0.1:9") as pos:
        with pytest.raises(SpiConnectionError):
            await pos.search("email", "a@b.c")


async def test_one_pooled_session(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(default=Reply(200, []))
    async with client(receiver.url) as pos:
        await pos.search("email", "a@b.c")
        session = pos.session
        await pos.search("email", "a@b.c")
        assert pos.session is session
    assert session.closed
