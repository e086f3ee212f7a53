"""The driver CLI (``main(argv)``) against real receivers; main runs in a worker thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from edge.spi_contract import ADD_CUSTOMER, EVENTS, integration_path
from sandbox.driver.__main__ import main
from sandbox.driver.receiver import Received, Receiver, Reply
from sandbox.driver.webhooks import order_event
from tests.sandbox.driver.test_driver_loyalty import FakeEdge

ReceiverFactory = Callable[..., Awaitable[Receiver]]
SPI = ["--integration", "acme", "--spi-user", "pos", "--spi-password", "pw"]
HOOK = ["--integration", "acme", "--webhook-user", "hook", "--webhook-password", "pw"]


async def run(*groups: list[str]) -> int:
    """``main(argv)`` in a worker thread (it runs its own event loop); argv given in groups."""
    argv = [arg for group in groups for arg in group]
    return await asyncio.to_thread(main, argv)


async def test_search_prints_json(
    start_receiver: ReceiverFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = await start_receiver(script=[Reply(200, [])])
    code = await run(
        ["search", "--edge-url", receiver.url, *SPI, "--key-type", "mobile", "--key", "+4670"],
        ["--store-id", "Göteborg"],
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["status"] == 200 and out["body"] == [] and out["problems"] == []
    assert receiver.records[0].raw_path.endswith("key_type=mobile&key=%2B4670")
    assert receiver.records[0].headers["Store-ID"] == "G%C3%B6teborg"


async def test_search_non_conforming_exit_1(
    start_receiver: ReceiverFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = await start_receiver(script=[Reply(418, {"oops": True})])
    code = await run(["search", "--edge-url", receiver.url, *SPI, "--key-type", "x", "--key", "y"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "status-not-documented: 418" in out["problems"]


async def test_create_builds_body(
    start_receiver: ReceiverFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = await start_receiver(
        script=[Reply(200, {"customer_id": "a@b.se", "email": "a@b.se"})]
    )
    code = await run(
        ["create", "--edge-url", receiver.url, *SPI, "--email", "a@b.se", "--first-name", "Åsa"],
        ["--json", '{"consents": ["consent_personal_offers"]}'],
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["body"]["customer_id"] == "a@b.se"
    record = receiver.records[0]
    assert record.path == integration_path("acme", ADD_CUSTOMER)
    assert record.body == {
        "consents": ["consent_personal_offers"],
        "email": "a@b.se",
        "name_first": "Åsa",
    }


async def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(["search", "--key-type", "email", "--key", "x"]) == 2
    assert "missing --integration" in capsys.readouterr().err
    assert await run(["create", *SPI]) == 2
    assert "give --json" in capsys.readouterr().err
    assert await run(["bogus"]) == 2
    assert await run(["send-events", *HOOK, "--account-id", "1"]) == 2
    assert "--order-id" in capsys.readouterr().err


async def test_unreachable_edge(capsys: pytest.CaptureFixture[str]) -> None:
    code = await run(
        ["search", "--edge-url", "http://127.0.0.1:9", *SPI, "--key-type", "e", "--key", "k"]
    )
    assert code == 2
    assert "edge unreachable" in capsys.readouterr().err


async def test_send_events_with_retry(
    start_receiver: ReceiverFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = await start_receiver(script=[503, 200, 400])
    code = await run(
        ["send-events", "--edge-url", receiver.url, *HOOK, "--account-id", "1500"],
        ["--order-id", "11", "--order-id", "12", "--state", "closed", "--order-event-type"],
        ["update", "--compression", "1e9", "--event-date", "1611138542"],
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [a["outcome"] for a in out["log"]] == ["retried", "delivered"]
    body = receiver.records[0].body
    assert receiver.records[0].path == integration_path("acme", EVENTS)
    assert [e["data"]["order_id"] for e in body] == [11, 12]
    assert body[0]["data"]["order_state_changed"] == "closed"
    assert body[0]["event_date"] == 1611138542


async def test_send_events_file_dropped_exit_1(
    start_receiver: ReceiverFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    receiver = await start_receiver(script=[400])
    event = order_event(account_id=1500, eshop_id=1, order_id=5, event_date=1)
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event.to_json()]))
    code = await run(
        ["send-events", "--edge-url", receiver.url, *HOOK, "--events-file", str(path)],
        ["--rule", "earlier"],
    )
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["dropped_batches"] == 1
    assert receiver.records[0].body == [event.to_json()]


@pytest.fixture
async def sitoo_url() -> AsyncIterator[str]:
    sitoo_api = pytest.importorskip(
        "sandbox.sitoo_api", reason="the Sitoo REST API emulator is not importable"
    )
    runner = web.AppRunner(sitoo_api.create_app(), shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_store_day_command(
    start_receiver: ReceiverFactory,
    sitoo_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    async def edge(request: web.Request, record: Received) -> web.Response | None:
        if request.path == integration_path("acme", ADD_CUSTOMER):
            return web.json_response({**record.body, "customer_id": record.body["email"].lower()})
        return None  # events: scripted default 200

    receiver = await start_receiver(handler=edge)
    output = tmp_path / "outcome.json"
    code = await run(
        ["store-day", "--edge-url", receiver.url, *SPI, "--webhook-user", "h"],
        ["--webhook-password", "p", "--sitoo-url", sitoo_url, "--sitoo-api-id", "1500-1"],
        ["--sitoo-api-password", "sandbox-password", "--customers", "2", "--sales", "3"],
        ["--refunds", "1", "--anonymous", "1", "--seed", "3", "--compression", "1e9"],
        ["--summary", "--output", str(output)],
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["sales"] == 3 and summary["refunds"] == 1 and summary["skipped"] == 1
    assert summary["events"] == 10
    full = json.loads(output.read_text())
    assert len(full["purchases"]) == 4 and len(full["customers"]) == 2


async def test_store_day_with_members_redeeming_offers(
    start_receiver: ReceiverFactory,
    sitoo_url: str,
    bloomreach: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lenient = FakeEdge(bloomreach, lenient=True)  # lets offers be used twice: must exit 1
    for edge, exit_code in ((FakeEdge(bloomreach), 0), (lenient, 1)):
        receiver = await start_receiver(handler=edge.handle)
        code = await run(
            ["store-day", "--edge-url", receiver.url, *SPI, "--webhook-user", "h"],
            ["--webhook-password", "p", "--sitoo-url", sitoo_url, "--sitoo-api-id", "1500-1"],
            ["--sitoo-api-password", "sandbox-password", "--customers", "2", "--sales", "4"],
            ["--refunds", "0", "--anonymous", "0", "--compression", "1e9", "--summary"],
            ["--loyalty-members", "2", "--bloomreach-url", bloomreach],
        )
        out, err = capsys.readouterr()
        assert code == exit_code, err
        summary = json.loads(out)
        assert summary["offers"] == 5  # two members' promotion and bonus check, one expired
        assert (summary["loyalty_mismatches"] > 0) is (exit_code == 1)


async def test_store_day_loyalty_needs_bloomreach(capsys: pytest.CaptureFixture[str]) -> None:
    code = await run(
        ["store-day", "--edge-url", "http://127.0.0.1:9", *SPI, "--sitoo-api-id", "1500-1"],
        ["--sitoo-api-password", "p", "--loyalty-members", "1"],
    )
    assert code == 2
    assert "--bloomreach-url" in capsys.readouterr().err


async def test_store_day_bad_sitoo_credentials(
    start_receiver: ReceiverFactory, sitoo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def edge(request: web.Request, record: Received) -> web.Response | None:
        return web.json_response({**record.body, "customer_id": "x"})

    receiver = await start_receiver(handler=edge)
    code = await run(
        ["store-day", "--edge-url", receiver.url, *SPI, "--sitoo-url", sitoo_url],
        ["--sitoo-api-id", "1500-1", "--sitoo-api-password", "wrong", "--customers", "1"],
        ["--sales", "1", "--refunds", "0", "--anonymous", "0"],
    )
    assert code == 1
    assert "401" in capsys.readouterr().err
