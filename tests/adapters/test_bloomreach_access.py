"""Trying Bloomreach access as it is entered, against the emulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from core_service.adapters.upstream import scratch_bloomreach
from core_service.domain.errors import FailedPrecondition, NotFound
from core_service.domain.integration import Integration
from core_service.services.bloomreach_access import AccessToTry, BloomreachAccessService
from harness.processes import free_port
from sandbox.bloomreach import BloomreachConfig, create_app
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET


class NoIntegrations:
    async def get(self, name: str) -> Integration:
        raise NotFound(f"integration {name!r} does not exist")


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(BloomreachConfig.sandbox(seed=1)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def access(url: str, **changes: str) -> AccessToTry:
    values = {
        "api_base_url": url,
        "project_token": DEFAULT_PROJECT_TOKEN,
        "api_key_id": DEFAULT_KEY_ID,
        "api_secret": DEFAULT_SECRET,
    }
    return AccessToTry(**{**values, **changes})


async def test_good_access_is_reported_ok(emulator_url: str) -> None:
    report = await BloomreachAccessService(NoIntegrations(), scratch_bloomreach).check(
        access(emulator_url)
    )
    assert report.ok, report.detail
    assert "2 consent categories" in report.detail


@pytest.mark.parametrize(
    ("changes", "remedy"),
    [
        ({"api_secret": "wrong"}, "API key ID and secret"),
        ({"project_token": "not-a-project"}, "project token"),
        ({"api_secret": ""}, "Enter the API URL, project token, API key ID and secret"),
        ({"api_base_url": "ftp://x"}, "https://host"),
    ],
)
async def test_bad_access_names_the_remedy(
    emulator_url: str, changes: dict[str, str], remedy: str
) -> None:
    report = await BloomreachAccessService(NoIntegrations(), scratch_bloomreach).check(
        access(emulator_url, **changes)
    )
    assert not report.ok
    assert remedy in report.remedy


async def test_an_unreachable_url_says_so() -> None:
    report = await BloomreachAccessService(NoIntegrations(), scratch_bloomreach, timeout=2).check(
        access(f"http://127.0.0.1:{free_port()}")
    )
    assert not report.ok
    assert "cannot reach" in report.detail
    assert "reach it" in report.remedy


async def test_consent_categories_are_the_projects(emulator_url: str) -> None:
    service = BloomreachAccessService(NoIntegrations(), scratch_bloomreach)
    categories = await service.consent_categories(access(emulator_url))
    assert [(c.id, c.name) for c in categories] == [("newsletter", "Newsletter"), ("sms", "Sms")]
    with pytest.raises(FailedPrecondition, match="API key ID and secret"):
        await service.consent_categories(access(emulator_url, api_secret="wrong"))
