"""The console's loyalty page (issue 14), in process: the real console app, its real
AdminGateway, gRPC to the in-memory core. The page reads and writes the integration's loyalty
settings (admin.proto Integration / IntegrationInput fields 60-69, 74-75)."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from console.app import init_app
from sitoo_bloomreach.v1 import admin_pb2 as apb
from tests.app.test_console_app import console_settings, sign_in
from tests.support.fake_core import Failure, FakeCore, fake_core

Client = TestClient[web.Request, web.Application]
PAGE = "/integrations/acme/loyalty"
PROPERTY_FIELDS = (
    "loyalty_id_property",
    "loyalty_name_property",
    "loyalty_type_property",
    "loyalty_value_property",
    "loyalty_amount_property",
    "loyalty_currency_property",
    "loyalty_valid_until_property",
)
# What the core holds for an integration created with defaults (loyalty-core's defaults).
DEFAULTS = {
    "loyalty_promotion_event_type": "sitoo_promotion",
    "loyalty_bonus_check_event_type": "sitoo_bonus_check",
    **{name: name.removeprefix("loyalty_").removesuffix("_property") for name in PROPERTY_FIELDS},
}


@pytest.fixture
async def core() -> AsyncIterator[FakeCore]:
    async with fake_core() as running:
        integration = apb.Integration(name="acme", company="Acme AB", market="SE")
        for name, value in DEFAULTS.items():
            setattr(integration, name, value)
        running.state.integrations["acme"] = integration
        yield running


@pytest.fixture
async def console(core: FakeCore) -> AsyncIterator[Client]:
    async with TestClient(TestServer(init_app(console_settings(core)))) as client:
        yield client


def a_form(csrf: str, **changes: str) -> dict[str, str]:
    return {**DEFAULTS, "csrf_token": csrf, **changes}


async def test_the_page_shows_the_cores_settings_and_what_to_track(
    console: Client, core: FakeCore
) -> None:
    core.state.integrations["acme"].loyalty_valid_until_property = "expires_at"
    await sign_in(console, core.state.token)
    response = await console.get(PAGE)
    assert response.status == 200
    page = html.unescape(await response.text())
    for name, value in {**DEFAULTS, "loyalty_valid_until_property": "expires_at"}.items():
        assert f'name="{name}" type="text" value="{value}"' in page, name
    assert (
        'id="loyalty_search_shows_offers" name="loyalty_search_shows_offers" type="checkbox" >'
        in (page)
    )
    # The example events use the configured names: what a Bloomreach scenario must send.
    assert '"event_type": "sitoo_promotion"' in page
    assert '"event_type": "sitoo_bonus_check"' in page
    assert '"expires_at": 1767225599' in page
    # Reachable from every page of the integration.
    details = await (await console.get("/integrations/acme/details")).text()
    assert 'href="/integrations/acme/loyalty"' in details


async def test_saving_sends_every_field_and_comes_back_to_the_page(
    console: Client, core: FakeCore
) -> None:
    csrf = await sign_in(console, core.state.token)
    form = a_form(
        csrf,
        loyalty_bonus_check_event_type="",  # bonus checks off
        loyalty_promotion_event_type="member_offer",
        loyalty_valid_until_property="expires_at",
        loyalty_search_shows_offers="on",
    )
    response = await console.post(PAGE, data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == PAGE
    request, _ = core.state.last("UpdateIntegration")
    assert isinstance(request, apb.UpdateIntegrationRequest) and request.name == "acme"
    sent = request.settings
    # Every loyalty field is set, the empty event type too (it turns bonus checks off).
    assert sent.HasField("loyalty_bonus_check_event_type")
    assert sent.loyalty_bonus_check_event_type == ""
    assert sent.loyalty_promotion_event_type == "member_offer"
    assert sent.loyalty_valid_until_property == "expires_at"
    assert all(sent.HasField(name) for name in PROPERTY_FIELDS)  # type: ignore[arg-type]
    assert sent.HasField("loyalty_search_shows_offers") and sent.loyalty_search_shows_offers
    # Nothing else of the integration is touched.
    assert not sent.HasField("company") and not sent.set_consent_types

    page = html.unescape(await (await console.get(PAGE)).text())
    assert "Saved." in page
    assert 'name="loyalty_promotion_event_type" type="text" value="member_offer"' in page
    # The example shows the new event type, and none for the kind turned off.
    assert '"event_type": "member_offer"' in page
    assert '"event_type": "sitoo_bonus_check"' not in page


async def test_an_unchecked_box_turns_search_offers_off(console: Client, core: FakeCore) -> None:
    core.state.integrations["acme"].loyalty_search_shows_offers = True
    csrf = await sign_in(console, core.state.token)
    response = await console.post(PAGE, data=a_form(csrf), allow_redirects=False)
    assert response.status == 303
    request, _ = core.state.last("UpdateIntegration")
    assert isinstance(request, apb.UpdateIntegrationRequest)
    assert request.settings.HasField("loyalty_search_shows_offers")
    assert not request.settings.loyalty_search_shows_offers
    assert not core.state.integrations["acme"].loyalty_search_shows_offers


async def test_the_offer_count_gate_is_shown_and_saved(console: Client, core: FakeCore) -> None:
    core.state.integrations["acme"].loyalty_promotion_count_aggregate_id = "promos"
    csrf = await sign_in(console, core.state.token)
    page = html.unescape(await (await console.get(PAGE)).text())
    assert 'name="loyalty_promotion_count_aggregate_id" type="text" value="promos"' in page
    assert 'name="loyalty_bonus_check_count_aggregate_id" type="text" value=""' in page
    assert "Aggregates can lag behind new events" in page
    form = a_form(
        csrf,
        loyalty_promotion_count_aggregate_id="",  # cleared: sent empty, the gate goes off
        loyalty_bonus_check_count_aggregate_id="65a1f0c2e4b0",
    )
    response = await console.post(PAGE, data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    request, _ = core.state.last("UpdateIntegration")
    assert isinstance(request, apb.UpdateIntegrationRequest)
    sent = request.settings
    assert sent.HasField("loyalty_promotion_count_aggregate_id")
    assert sent.loyalty_promotion_count_aggregate_id == ""
    assert sent.loyalty_bonus_check_count_aggregate_id == "65a1f0c2e4b0"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loyalty_id_property": ""}, "Enter the id property."),
        ({"loyalty_bonus_check_count_aggregate_id": "an id"}, "Letters, digits, _ - and . only."),
        ({"loyalty_valid_until_property": "  "}, "Enter the valid until property."),
        ({"loyalty_name_property": "first name"}, "Letters, digits, _ - and . only."),
        ({"loyalty_promotion_event_type": "offer<script>"}, "Letters, digits, _ - and . only."),
        (
            {"loyalty_promotion_event_type": "offer", "loyalty_bonus_check_event_type": "offer"},
            "Promotions and bonus checks need different event types.",
        ),
    ],
)
async def test_the_form_checks_input_before_asking_the_core(
    console: Client, core: FakeCore, changes: dict[str, str], message: str
) -> None:
    csrf = await sign_in(console, core.state.token)
    response = await console.post(PAGE, data=a_form(csrf, **changes))
    assert response.status == 400
    page = html.unescape(await response.text())
    assert message in page
    assert "UpdateIntegration" not in [name for name, _, _ in core.state.calls]
    # What the user typed is kept.
    for name, value in changes.items():
        assert f'name="{name}" type="text" value="{value.strip()}"' in page


async def test_the_cores_refusal_is_shown_on_the_form(console: Client, core: FakeCore) -> None:
    csrf = await sign_in(console, core.state.token)
    core.state.failure = Failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        "loyalty_id_property: must differ from loyalty_name_property",
        method="UpdateIntegration",
    )
    form = a_form(csrf, loyalty_id_property="name")
    response = await console.post(PAGE, data=form, allow_redirects=False)
    assert response.status == 400
    page = await response.text()
    assert "must differ from loyalty_name_property" in page
    assert 'name="loyalty_id_property" type="text" value="name"' in page
    assert core.state.integrations["acme"].loyalty_id_property == "id"


async def test_the_page_needs_a_session_and_a_csrf_token(console: Client, core: FakeCore) -> None:
    response = await console.get(PAGE, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/signin"
    await sign_in(console, core.state.token)
    refused = await console.post(PAGE, data=DEFAULTS)
    assert refused.status == 403
    assert "UpdateIntegration" not in [name for name, _, _ in core.state.calls]
