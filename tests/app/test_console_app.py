"""The console's views, in process: its real aiohttp app (``console.app.init_app``) under
aiohttp's test client, its real AdminGateway talking gRPC to an in-memory core
(``tests.support.fake_core``). The browser flows over real processes stay in
``tests/e2e/test_console.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from console.app import init_app
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as apb
from tests.support.fake_core import Failure, FakeCore, fake_core

Client = TestClient[web.Request, web.Application]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def core() -> AsyncIterator[FakeCore]:
    async with fake_core() as running:
        running.state.integrations["acme"] = apb.Integration(
            name="acme", company="Acme AB", market="SE"
        )
        yield running


def console_settings(core: FakeCore) -> Settings:
    return Settings(
        core_target=core.target,
        admin_token=core.state.token,
        console_core_deadline_seconds=5.0,
    )


@pytest.fixture
async def console(core: FakeCore) -> AsyncIterator[Client]:
    async with TestClient(TestServer(init_app(console_settings(core)))) as client:
        yield client


async def csrf_token(client: Client, path: str = "/signin") -> str:
    page = await (await client.get(path)).text()
    found = CSRF.search(page)
    assert found is not None, page
    return found.group(1)


async def sign_in(client: Client, token: str) -> str:
    """Signs in; returns the session's CSRF token for the forms that follow."""
    csrf = await csrf_token(client)
    response = await client.post(
        "/signin", data={"admin_token": token, "csrf_token": csrf}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    return await csrf_token(client, "/integrations/new")


async def test_pages_need_a_signed_in_session(console: Client, core: FakeCore) -> None:
    response = await console.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/signin"
    assert core.state.calls == []
    assert (await console.get("/healthz")).status == 200


async def test_a_wrong_admin_token_is_refused(console: Client, core: FakeCore) -> None:
    csrf = await csrf_token(console)
    response = await console.post("/signin", data={"admin_token": "guess", "csrf_token": csrf})
    assert response.status == 401
    assert "not the admin token" in await response.text()
    assert (await console.get("/", allow_redirects=False)).status == 303


async def test_every_page_carries_the_security_headers(console: Client) -> None:
    response = await console.get("/signin")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_signed_in_the_list_shows_the_cores_integrations(
    console: Client, core: FakeCore
) -> None:
    await sign_in(console, core.state.token)
    response = await console.get("/")
    assert response.status == 200
    assert "acme" in await response.text()
    _, metadata = core.state.last("ListIntegrations")
    assert metadata["authorization"] == f"Bearer {core.state.token}"


async def test_a_form_without_its_csrf_token_is_refused(console: Client, core: FakeCore) -> None:
    await sign_in(console, core.state.token)
    response = await console.post(
        "/integrations/new", data={"name": "shop", "company": "Shop AB", "market": "SE"}
    )
    assert response.status == 403
    assert "CreateIntegration" not in [name for name, _, _ in core.state.calls]


async def test_creating_shows_the_credentials_once(console: Client, core: FakeCore) -> None:
    csrf = await sign_in(console, core.state.token)
    response = await console.post(
        "/integrations/new",
        data={"name": "shop", "company": "Shop AB", "market": "se", "csrf_token": csrf},
    )
    assert response.status == 200
    page = await response.text()
    assert "shop-spi" in page and "shop-webhook" in page
    request, _ = core.state.last("CreateIntegration")
    assert isinstance(request, apb.CreateIntegrationRequest)
    assert (request.settings.company, request.settings.market) == ("Shop AB", "SE")


async def test_the_form_checks_input_before_asking_the_core(
    console: Client, core: FakeCore
) -> None:
    csrf = await sign_in(console, core.state.token)
    response = await console.post(
        "/integrations/new",
        data={"name": "Not A Slug", "company": "", "market": "Sweden", "csrf_token": csrf},
    )
    assert response.status == 400
    page = await response.text()
    assert "lower-case letters" in page and "two-letter country code" in page
    assert "CreateIntegration" not in [name for name, _, _ in core.state.calls]


async def test_the_cores_refusal_of_a_form_is_shown_on_the_form(
    console: Client, core: FakeCore
) -> None:
    csrf = await sign_in(console, core.state.token)
    # ALREADY_EXISTS is a mistake the user can fix: the form comes back with the core's words.
    response = await console.post(
        "/integrations/new",
        data={"name": "acme", "company": "Acme AB", "market": "SE", "csrf_token": csrf},
    )
    assert response.status == 400
    page = await response.text()
    assert "that name is taken" in page
    assert 'value="Acme AB"' in page  # what the user typed is kept


STEP_FORMS = [
    ("details", {"company": "Acme Group", "market": "NO"}, "authenticate"),
    ("matching", {"hard_id_name": "registered", "hard_id_source_field": "email"}, "mapping"),
]


@pytest.mark.parametrize(("step", "form", "next_step"), STEP_FORMS)
async def test_a_saved_step_moves_on_to_the_next(
    console: Client, core: FakeCore, step: str, form: dict[str, str], next_step: str
) -> None:
    csrf = await sign_in(console, core.state.token)
    response = await console.post(
        f"/integrations/acme/{step}", data={**form, "csrf_token": csrf}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/integrations/acme/{next_step}"
    request, _ = core.state.last("UpdateIntegration")
    assert isinstance(request, apb.UpdateIntegrationRequest) and request.name == "acme"


@pytest.mark.parametrize(("step", "form", "next_step"), STEP_FORMS)
async def test_a_refused_step_stays_with_the_message(
    console: Client, core: FakeCore, step: str, form: dict[str, str], next_step: str
) -> None:
    csrf = await sign_in(console, core.state.token)
    core.state.failure = Failure(
        grpc.StatusCode.FAILED_PRECONDITION, "not with that setting", method="UpdateIntegration"
    )
    response = await console.post(
        f"/integrations/acme/{step}",
        data={**form, "csrf_token": csrf},
        allow_redirects=False,
    )
    assert response.status == 400
    page = await response.text()
    assert "not with that setting" in page
    assert f'value="{next(iter(form.values()))}"' in page  # what the user typed is kept
    assert core.state.integrations["acme"].company == "Acme AB"


async def test_a_step_the_core_fails_on_is_an_error_page_not_a_form_message(
    console: Client, core: FakeCore
) -> None:
    csrf = await sign_in(console, core.state.token)
    core.state.failure = Failure(grpc.StatusCode.INTERNAL, "disk full", method="UpdateIntegration")
    response = await console.post(
        "/integrations/acme/details",
        data={"company": "Acme Group", "market": "NO", "csrf_token": csrf},
    )
    assert response.status == 502
    assert "The core reported an error" in await response.text()


@pytest.mark.parametrize(
    ("code", "status", "title"),
    [
        (grpc.StatusCode.NOT_FOUND, 404, "Not found"),
        (grpc.StatusCode.PERMISSION_DENIED, 502, "The core refused the console"),
        (grpc.StatusCode.INTERNAL, 502, "The core reported an error"),
        (grpc.StatusCode.UNAVAILABLE, 503, "The core is unreachable"),
    ],
)
async def test_core_failures_become_error_pages(
    console: Client, core: FakeCore, code: grpc.StatusCode, status: int, title: str
) -> None:
    await sign_in(console, core.state.token)
    core.state.failure = Failure(code, "boom")
    response = await console.get("/integrations/acme/details")
    assert response.status == status
    assert title in await response.text()


async def test_a_console_whose_core_is_down_says_so(core: FakeCore) -> None:
    settings = console_settings(core).model_copy(update={"core_target": "127.0.0.1:1"})
    async with TestClient(TestServer(init_app(settings))) as client:
        await sign_in(client, core.state.token)
        response = await client.get("/")
        page = await response.text()
    assert response.status == 503
    assert "The core is unreachable" in page and "127.0.0.1:1" in page


@pytest.mark.parametrize(
    ("circuit", "shown", "absent"),
    [
        (
            apb.CircuitBreakerStatus(
                integration="acme",
                enabled=True,
                state="open",
                project="a7762b1c52eb",
                integrations=["acme", "acme-outlet"],
                consecutive_failures=5,
                retry_after_seconds=12.4,
                trips=2,
            ),
            [
                'data-circuit-state="open"',
                '<dd data-circuit="state">open</dd>',
                '<dd data-circuit="failures">5</dd>',
                '<dd data-circuit="retry">12 s</dd>',
                "acme, acme-outlet",
                "fall back",
            ],
            [],
        ),
        (
            apb.CircuitBreakerStatus(integration="acme", enabled=True, state="half_open"),
            ['<dd data-circuit="state">half-open</dd>', "the next customer call probes"],
            ['data-circuit="retry"'],
        ),
        (
            apb.CircuitBreakerStatus(integration="acme", enabled=False),
            ['data-circuit-state="off"', "SITOO_BR_BLOOMREACH_CIRCUIT_FAILURES=0"],
            ['data-circuit="state"'],
        ),
        (None, [], ['id="circuit"']),  # an older core: no card, the page still renders
    ],
)
async def test_the_operations_page_shows_the_circuit_breaker(
    console: Client,
    core: FakeCore,
    circuit: apb.CircuitBreakerStatus | None,
    shown: list[str],
    absent: list[str],
) -> None:
    core.state.circuit = circuit
    await sign_in(console, core.state.token)
    response = await console.get("/integrations/acme/operations")
    page = await response.text()
    assert response.status == 200, page
    for text in shown:
        assert text in page
    for text in absent:
        assert text not in page
    request, _ = core.state.last("GetCircuitBreaker")
    assert isinstance(request, apb.GetCircuitBreakerRequest) and request.name == "acme"


async def test_the_integration_page_shows_and_saves_the_outage_settings(
    console: Client, core: FakeCore
) -> None:
    # Issue 15: cached reads, queued writes and the card cache's bounds, per integration.
    csrf = await sign_in(console, core.state.token)
    page = await (await console.get("/integrations/acme/details")).text()
    assert "When Bloomreach is down" in page
    assert 'name="cached_reads"' in page and 'name="queued_writes"' in page
    response = await console.post(
        "/integrations/acme/details",
        data={
            "company": "Acme AB",
            "market": "SE",
            "enabled": "on",
            "queued_writes": "on",
            "card_cache_max_cards": "5000",
            "card_cache_ttl_days": "7",
            "csrf_token": csrf,
        },
        allow_redirects=False,
    )
    assert response.status == 303
    request, _ = core.state.last("UpdateIntegration")
    assert isinstance(request, apb.UpdateIntegrationRequest)
    settings = request.settings
    assert settings.HasField("cached_reads") and not settings.cached_reads
    assert settings.queued_writes
    assert (settings.card_cache_max_cards, settings.card_cache_ttl_seconds) == (5000, 7 * 86400)
