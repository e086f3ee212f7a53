"""The command line: a real subprocess, the ready line, SIGTERM -> exit 0; argument parsing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from sandbox.bloomreach.__main__ import _parser, config_from_args, main

ROOT = Path(__file__).resolve().parents[3]
READY = "bloomreach emulator listening on http://"


async def _launch(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.bloomreach",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        line = (await proc.stdout.readline()).decode().strip()
    assert line.startswith(READY), line
    return proc, "http://" + line.removeprefix(READY)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_subprocess_serves_and_exits_cleanly(sig: int, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc, base = await _launch(
        "--project-token",
        "proj-1",
        "--key-id",
        "kid",
        "--secret",
        "sec",
        "--consent-category",
        "newsletter",
        "--state-file",
        str(state),
        "--fault",
        'export_one={"error_rate": 1, "error_status": 503}',
    )
    try:
        auth = aiohttp.encode_basic_auth("kid", "sec")
        headers = {"Authorization": auth}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(
                f"{base}/track/v2/projects/proj-1/customers",
                json={"customer_ids": {"registered": "a"}, "properties": {"n": 1}},
            ) as response:
                assert response.status == 200
                assert (await response.json())["success"] is True
                assert response.headers["x-request-id"]
            async with session.get(f"{base}/data/v2/projects/proj-1/consent/categories") as r:
                assert [c["id"] for c in (await r.json())["results"]] == ["newsletter"]
            async with session.post(
                f"{base}/data/v2/projects/proj-1/customers/export-one",
                json={"customer_ids": {"registered": "a"}},
            ) as r:
                assert r.status == 503
    finally:
        proc.send_signal(sig)
        async with asyncio.timeout(30):
            code = await proc.wait()
    assert code == 0
    saved = json.loads(state.read_text())  # saved on shutdown
    assert saved["projects"]["proj-1"]["customers"][0]["hard_ids"] == {"registered": "a"}


def test_config_from_args() -> None:
    args = _parser().parse_args(
        [
            "--project-token",
            "a",
            "--project-token",
            "b",
            "--key-id",
            "k1",
            "--secret",
            "s1",
            "--permissions",
            'k1={"events_set": ["purchase"], "export_customer": false}',
            "--requests-per-second",
            "5",
            "--fault",
            'batch={"drop_rate": 0.5}',
            "--consent-category",
            "newsletter",
            "--consent-category",
            "sms_marketing",
            "--soft-id",
            "email_id",
            "--seed",
            "3",
            "--validation-error-status",
            "200",
            "--attributes-unknown-404",
        ]
    )
    config = config_from_args(args)
    assert set(config.projects) == {"a", "b"}
    assert config.projects["a"].soft_ids == ("email_id",)
    assert [c.id for c in config.projects["b"].consent_categories] == [
        "newsletter",
        "sms_marketing",
    ]
    key = config.key("k1")
    assert key is not None and not key.public
    assert key.permissions.events_set.allows("purchase")
    assert not key.permissions.events_set.allows("purchase_item")
    assert key.permissions.export_customer is False
    assert config.requests_per_second == 5
    assert config.faults["batch"].drop_rate == 0.5
    assert config.seed == 3
    assert config.validation_error_status == 200
    assert config.attributes_unknown_customer_404 is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--key-id", "a", "--key-id", "b", "--secret", "x"],
        ["--fault", "batch"],
        ["--fault", "batch=1"],
        ["--fault", 'batch={"nope": 1}'],
        ["--fault", "batch={not json"],
        ["--permissions", 'k={"unknown": true}'],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err
