"""The edge's last line on the Events SPI: a bug in a webhook handler answers 503 (Sitoo
retries it) with the traceback logged and the exception's message left out (it may quote
input); the other routes keep answering 500. Real HTTP through aiohttp's test server and
the edge's own middleware chain."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge import spi_contract
from edge.keys import METRICS, SETTINGS
from edge.metrics import EdgeMetrics
from edge.middlewares import request_context, webhook_never_500
from runtime.settings import Settings

SECRET_INPUT = "anna.svensson@example.se"


async def _raises(request: web.Request) -> web.Response:
    if request.query.get("mode") == "answer":
        return web.json_response({"oops": SECRET_INPUT}, status=500)
    raise RuntimeError(f"bug while handling {SECRET_INPUT}")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[request_context, webhook_never_500])
    app[SETTINGS] = Settings()
    app[METRICS] = EdgeMetrics.create()
    app.router.add_post("/sitoo/{integration}/events", _raises, name=spi_contract.EVENTS.name)
    app.router.add_get("/sitoo/{integration}/consents", _raises, name=spi_contract.CONSENTS.name)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_bug_on_the_webhook_is_a_retryable_503_with_the_traceback_logged(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="edge.access")
    response = await client.post("/sitoo/shop/events", data=b"[]")
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    body = await response.json()
    assert body["error_code"] == "other"
    assert body["request_id"] == response.headers["X-Request-ID"]
    records = [r for r in caplog.records if r.getMessage().startswith("unhandled error")]
    assert len(records) == 1
    traceback_text = records[0].__dict__["exc"]
    assert "_raises" in traceback_text  # the frame that failed is named
    assert SECRET_INPUT not in traceback_text + records[0].getMessage()
    assert "RuntimeError" in records[0].getMessage()


async def test_other_routes_still_answer_500(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/sitoo/shop/consents")
    assert response.status == 500
    assert SECRET_INPUT not in await response.text()


async def test_a_500_answer_on_the_webhook_becomes_a_503(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/sitoo/shop/events?mode=answer", data=b"[]")
    assert response.status == 503
    assert SECRET_INPUT not in await response.text()
