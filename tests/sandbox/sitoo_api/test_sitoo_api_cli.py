"""``python -m sandbox.sitoo_api``: ready line, one request, SIGTERM → exit 0."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from sandbox.sitoo_api.__main__ import build_parser, main

REPO = Path(__file__).resolve().parents[3]
READY = re.compile(r"^sitoo emulator listening on (http://127\.0\.0\.1:(\d+))$")


async def test_subprocess_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.sitoo_api",
        "--port",
        "0",
        "--account",
        "2000",
        "--password",
        "pw",
        "--state-file",
        str(state_file),
        "--fault",
        'get_order={"error_rate": 1, "error_status": 503}',
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()
        match = READY.match(line)
        assert match, line
        base = match.group(1)
        headers = {"Authorization": aiohttp.encode_basic_auth("2000-1", "pw")}
        async with aiohttp.ClientSession() as session:
            body = {
                "ordertypeid": 10,
                "orderitems": [{"sku": "A", "quantity": 1, "moneynetpriceperunit": "5.00"}],
            }
            async with session.post(
                f"{base}/v2/accounts/2000/sites/1/orders.json", json=body, headers=headers
            ) as response:
                assert response.status == 200
                orderid = await response.json()
            async with session.get(
                f"{base}/v2/accounts/2000/sites/1/orders/{orderid}.json", headers=headers
            ) as response:
                assert response.status == 503  # the --fault flag took effect
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    saved = json.loads(state_file.read_text())
    assert [o["orderid"] for o in saved["accounts"]["2000"]["orders"]] == [orderid]


def test_parser_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.account) == ("127.0.0.1", 9400, 1500)
    assert args.api_id is None and args.fault == [] and args.state_file is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault", "get_order"],
        ["--fault", "get_order={not json"],
        ["--fault", 'get_order={"error_rate": 2}'],
        ["--fault", 'get_order={"bogus": 1}'],
        ["--port", "x"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2


def test_inconsistent_api_id_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--account", "1500", "--api-id", "1600-1"]) == 2
    assert "api_id" in capsys.readouterr().err
