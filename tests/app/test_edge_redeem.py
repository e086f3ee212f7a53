"""Redeem and Undo Redeem (CRM SPI v2 §5.7, §5.8) on the edge, in process: the real app under
aiohttp's test client, gRPC to the in-memory core (``tests.support.fake_core``).

What the edge alone decides is covered here: the routes, the body's reading (an object with
``items`` or the bare array), the strict checks that keep a bad item from reaching the core,
the 400 that names the item the core refused, and the customer card it answers with.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge import spi_contract
from edge.app import init_app
from runtime.settings import Settings
from sitoo_bloomreach.v1 import customers_pb2 as cpb
from tests.support.fake_core import CoreState, Failure, FakeCore, fake_core

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": aiohttp.encode_basic_auth("pos", "secret")}
REDEEM = spi_contract.integration_path("shop", spi_contract.REDEEM, customer_id="c1")
UNDO = spi_contract.integration_path("shop", spi_contract.UNDO_REDEEM, customer_id="c1")


@pytest.fixture
async def core() -> AsyncIterator[FakeCore]:
    async with fake_core() as running:
        running.state.customers["c1"] = a_member()
        yield running


@pytest.fixture
async def edge(core: FakeCore) -> AsyncIterator[Client]:
    settings = Settings(
        core_target=core.target, service_token=core.state.token, edge_core_deadline_seconds=5.0
    )
    async with TestClient(TestServer(init_app(settings))) as client:
        yield client


def a_member() -> cpb.Customer:
    return cpb.Customer(
        customer_id="c1",
        email="ann@example.com",
        promotions=[
            cpb.Promotion(
                promotion_id="p1",
                name="10% off",
                promotion_type=cpb.PromotionType(type="cart_percent", value_int=10),
                value="10",
                valid_until=1_900_000_000,
            ),
            cpb.Promotion(promotion_id="p2", name="Free coffee"),
        ],
        bonus_checks=[
            cpb.BonusCheck(
                bonus_check_id="b1",
                name="Bonus 50 kr",
                value="50.00",
                currency="SEK",
                description="Spring bonus",
                valid_until=1_900_000_000,
            )
        ],
    )


def sitoo_error(body: Any, status: int) -> str:
    assert set(body) == {"request_id", "error_code", "error_data"}, body
    assert body["error_code"] == spi_contract.error_code_for(status)
    message = body["error_data"]["message"]
    assert isinstance(message, str) and message
    return message


def redeem_calls(state: CoreState) -> list[object]:
    return [request for method, request, _ in state.calls if method in ("Redeem", "UndoRedeem")]


# ---- the routes and the answer ----


async def test_redeem_sends_every_item_and_answers_the_customer_card(
    edge: Client, core: FakeCore
) -> None:
    body = {"items": [{"promotion_id": "p1"}, {"bonus_check_id": "b1"}]}
    response = await edge.post(REDEEM, json=body, headers=AUTH)
    assert response.status == 200, await response.text()
    card = await response.json()
    request, metadata = core.state.last("Redeem")
    assert isinstance(request, cpb.RedeemRequest)
    assert (request.integration, request.customer_id) == ("shop", "c1")
    assert [(i.WhichOneof("item"), i.promotion_id or i.bonus_check_id) for i in request.items] == [
        ("promotion_id", "p1"),
        ("bonus_check_id", "b1"),
    ]
    assert metadata["x-sitoo-authorization"] == AUTH["Authorization"]
    # The card, in Sitoo's documented shape (spec §5.1 example, §6.2), with redeemed flipped.
    assert set(card) == set(spi_contract.CUSTOMER_FIELDS)
    assert card["promotions"] == [
        {
            "name": "10% off",
            "promotion_id": "p1",
            "promotion_type": {"type": "cart_percent", "value_int": 10},
            "redeemed": True,
            "valid_until": 1_900_000_000,
            "value": "10",
            "currency": "",
        },
        {
            "name": "Free coffee",
            "promotion_id": "p2",
            "promotion_type": {"type": "", "value_int": 0},
            "redeemed": False,
            "valid_until": 0,
            "value": "",
            "currency": "",
        },
    ]
    assert card["bonus_checks"] == [
        {
            "bonus_check_id": "b1",
            "name": "Bonus 50 kr",
            "value": "50.00",
            "redeemed": True,
            "description": "Spring bonus",
            "valid_until": 1_900_000_000,
            "currency": "SEK",
        }
    ]


async def test_undo_redeem_takes_the_same_body_and_makes_the_item_redeemable_again(
    edge: Client, core: FakeCore
) -> None:
    body = {"items": [{"promotion_id": "p2"}]}
    assert (await edge.post(REDEEM, json=body, headers=AUTH)).status == 200
    undone = await edge.post(UNDO, json=body, headers=AUTH)
    assert undone.status == 200
    assert [p["redeemed"] for p in (await undone.json())["promotions"]] == [False, False]
    assert isinstance(core.state.last("UndoRedeem")[0], cpb.RedeemRequest)
    again = await edge.post(REDEEM, json=body, headers=AUTH)
    assert again.status == 200


async def test_a_bare_array_of_items_is_the_same_request(edge: Client, core: FakeCore) -> None:
    assert spi_contract.REDEEM_ACCEPTS_BARE_LIST
    response = await edge.post(REDEEM, json=[{"bonus_check_id": "b1"}], headers=AUTH)
    assert response.status == 200
    request, _ = core.state.last("Redeem")
    assert isinstance(request, cpb.RedeemRequest)
    assert [i.bonus_check_id for i in request.items] == ["b1"]


async def test_unknown_keys_in_an_item_are_tolerated(edge: Client, core: FakeCore) -> None:
    item = {"promotion_id": "p1", "name": "10% off", "quantity": 1}
    response = await edge.post(REDEEM, json={"items": [item], "cart": "x"}, headers=AUTH)
    assert response.status == 200


# ---- what the core refuses: a 400 naming the item ----


async def test_redeeming_twice_is_a_400_naming_the_item(edge: Client, core: FakeCore) -> None:
    body = {"items": [{"bonus_check_id": "b1"}, {"promotion_id": "p1"}]}
    assert (await edge.post(REDEEM, json={"items": [{"promotion_id": "p1"}]}, headers=AUTH)).ok
    response = await edge.post(REDEEM, json=body, headers=AUTH)
    assert response.status == 400
    assert sitoo_error(await response.json(), 400) == "items[1].promotion_id: already redeemed"
    # All or nothing: the bonus check of the refused call stays unredeemed.
    assert not core.state.customers["c1"].bonus_checks[0].redeemed


async def test_undoing_what_is_not_redeemed_is_a_400(edge: Client) -> None:
    response = await edge.post(UNDO, json={"items": [{"promotion_id": "p1"}]}, headers=AUTH)
    assert response.status == 400
    assert sitoo_error(await response.json(), 400) == "items[0].promotion_id: not redeemed"


async def test_an_unknown_offer_is_a_400_and_an_unknown_customer_a_404(edge: Client) -> None:
    response = await edge.post(REDEEM, json={"items": [{"promotion_id": "nope"}]}, headers=AUTH)
    assert response.status == 400
    assert "items[0].promotion_id" in sitoo_error(await response.json(), 400)
    other = spi_contract.integration_path("shop", spi_contract.REDEEM, customer_id="c9")
    missing = await edge.post(other, json={"items": [{"promotion_id": "p1"}]}, headers=AUTH)
    assert missing.status == 404
    sitoo_error(await missing.json(), 404)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    ],
)
async def test_core_failures_map_as_on_every_route(
    edge: Client, core: FakeCore, code: grpc.StatusCode, status: int
) -> None:
    core.state.failure = Failure(code, "items[0].promotion_id: expired", method="Redeem")
    response = await edge.post(REDEEM, json={"items": [{"promotion_id": "p1"}]}, headers=AUTH)
    assert response.status == status
    message = sitoo_error(await response.json(), status)
    assert (message == "items[0].promotion_id: expired") is (status == 400)


async def test_no_credentials_is_401_without_redeeming(edge: Client, core: FakeCore) -> None:
    response = await edge.post(REDEEM, json={"items": [{"promotion_id": "p1"}]})
    assert response.status == 401
    sitoo_error(await response.json(), 401)
    assert redeem_calls(core.state) == []


# ---- what the edge refuses itself: a 400 naming the fault, the core never asked ----

TOO_MANY = {"items": [{"promotion_id": f"p{i}"} for i in range(spi_contract.MAX_REDEEM_ITEMS + 1)]}
LONG_ID = "x" * (spi_contract.MAX_OFFER_ID_LENGTH + 1)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "items must be an array"),
        ({"items": {"promotion_id": "p1"}}, "items must be an array"),
        ({"items": []}, "at least one item"),
        ([], "at least one item"),
        ("p1", "must be an object with items"),
        (TOO_MANY, f"more than {spi_contract.MAX_REDEEM_ITEMS} items"),
        ({"items": ["p1"]}, "items[0] must be an object"),
        ({"items": [{}]}, "items[0] must hold exactly one of promotion_id, bonus_check_id"),
        ({"items": [{"promotion_id": None}]}, "items[0] must hold exactly one"),
        (
            {"items": [{"promotion_id": "p1"}, {"promotion_id": "p2", "bonus_check_id": "b1"}]},
            "items[1] must hold exactly one",
        ),
        ({"items": [{"promotion_id": ""}]}, "items[0].promotion_id must not be empty"),
        ({"items": [{"bonus_check_id": "  "}]}, "items[0].bonus_check_id must not be empty"),
        ({"items": [{"promotion_id": 7}]}, "items[0].promotion_id must be a string, got int"),
        ({"items": [{"promotion_id": LONG_ID}]}, "items[0].promotion_id is longer than"),
        ({"items": [{"promotion_id": "p\u0000"}]}, "items[0].promotion_id holds control"),
        ({"items": [{"promotion_id": "p\ud800"}]}, "items[0].promotion_id holds control"),
        (
            {"items": [{"promotion_id": "p1"}, {"bonus_check_id": "b1"}, {"promotion_id": "p1"}]},
            "items[2].promotion_id: the same id as items[0]",
        ),
    ],
)
@pytest.mark.parametrize("path", [REDEEM, UNDO], ids=["redeem", "undo"])
async def test_a_bad_body_is_a_400_naming_the_fault_and_never_reaches_the_core(
    edge: Client, core: FakeCore, body: Any, named: str, path: str
) -> None:
    raw = json.dumps(body).encode()  # \ud800 stays escaped: a lone surrogate once parsed
    response = await edge.post(path, data=raw, headers=AUTH)
    assert response.status == 400
    assert named in sitoo_error(await response.json(), 400)
    assert redeem_calls(core.state) == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_a_400(edge: Client, core: FakeCore, raw: bytes) -> None:
    response = await edge.post(REDEEM, data=raw, headers=AUTH)
    assert response.status == 400
    sitoo_error(await response.json(), 400)
    assert redeem_calls(core.state) == []


async def test_the_openapi_document_describes_both_routes(edge: Client) -> None:
    document = await (await edge.get("/openapi.json")).json()
    for route in (spi_contract.REDEEM, spi_contract.UNDO_REDEEM):
        operation = document["paths"][spi_contract.INTEGRATION_PREFIX + route.path]["post"]
        assert operation["operationId"] == route.name
        assert operation["x-confidence"] == "inferred"
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/RedeemRequest"}
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/Customer"}
    item = document["components"]["schemas"]["RedeemItem"]
    assert [alt["required"] for alt in item["oneOf"]] == [["promotion_id"], ["bonus_check_id"]]
