"""The first hour of a new user, as the README's quick start walks it: `run`, the store-day
command it prints (no flags), the console it prints, and `sandbox --help`. Real processes."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness.processes import cli, free_port, running
from sandbox.bloomreach.config import DEFAULT_PROJECT_TOKEN as SANDBOX_TOKEN


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _run_env(data_dir: Path) -> dict[str, str]:
    core_port = free_port()
    return {
        "SITOO_BR_DATA_DIR": str(data_dir),
        "SITOO_BR_EDGE_PORT": str(free_port()),
        "SITOO_BR_CORE_LISTEN": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{core_port}",
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_SANDBOX_BLOOMREACH_PORT": str(free_port()),
        "SITOO_BR_SANDBOX_SITOO_PORT": str(free_port()),
        "SITOO_BR_CONSOLE_PORT": "0",
    }


def test_sandbox_help_lists_its_tools() -> None:
    result = cli(["sandbox", "--help"], {})
    assert result.returncode == 0, result.stderr
    for tool in ("bloomreach", "sitoo", "driver"):
        assert re.search(rf"^\s+{tool}\s+\S", result.stdout, re.MULTILINE), result.stdout
    assert "store-day" in result.stdout


def test_store_day_without_flags_needs_a_run_here(tmp_path: Path) -> None:
    """No `run` sandbox in the data directory: a usage error that says what to do."""
    result = cli(["sandbox", "driver", "store-day"], {"SITOO_BR_DATA_DIR": str(tmp_path / "empty")})
    assert result.returncode == 2
    assert "sitoo-bloomreach run" in result.stderr


def test_run_then_store_day_with_no_flags_lands_in_bloomreach(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = _run_env(data_dir)
    bloomreach_url = f"http://127.0.0.1:{env['SITOO_BR_SANDBOX_BLOOMREACH_PORT']}"
    with running("run", ["-m", "cli.main", "run"], env, tmp_path / "logs", None) as service:
        # The last line `run` prints ("... is ready:" comes earlier, in the sandbox's block).
        service.wait_for_line("relay running")
        text = "".join(service.output)
        # The console runs on loopback, and `run` says how to sign in without printing the token.
        console_url = re.search(r"^console: (http://127\.0\.0\.1:\d+)$", text, re.MULTILINE)
        assert console_url is not None, text
        token = (data_dir / "admin.token").read_text().strip()
        assert token not in text
        assert f"cat {(data_dir / 'admin.token').resolve()}" in text
        assert _get_json(f"{console_url[1]}/healthz") is not None
        operations = f"{console_url[1]}/integrations/sandbox/operations"
        assert operations in text
        # The command it prints is the one a user runs.
        assert re.search(r"^\s+\.venv/bin/sitoo-bloomreach sandbox driver store-day$", text, re.M)

        defaults = data_dir / "sandbox" / "driver.json"
        assert defaults.stat().st_mode & 0o077 == 0
        passwords = [
            v for k, v in json.loads(defaults.read_text()).items() if k.endswith("password")
        ]
        assert len(passwords) == 3
        assert not any(password in text for password in passwords)

        # The POS search `run` suggests needs no flags either.
        search = cli(
            ["sandbox", "driver", "search", "--key-type", "email", "--key", "anna@example.com"],
            {"SITOO_BR_DATA_DIR": str(data_dir)},
        )
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout)["status"] == 200

        # Only the data directory is shared with `run`: everything else comes from its file.
        day = cli(
            ["sandbox", "driver", "store-day", "--summary", "--loyalty-members", "2"],
            {"SITOO_BR_DATA_DIR": str(data_dir)},
            timeout=120,
        )
        assert day.returncode == 0, day.stderr
        summary = json.loads(day.stdout)
        assert summary["sales"] == 10 and summary["refunds"] == 2
        assert summary["delivery"].get("dropped_batches", 0) == 0
        # Members redeem the offers the emulator gave them, found from the same file.
        assert summary["offers"] > 0 and summary["loyalty_mismatches"] == 0
        for output in (day.stdout, day.stderr):
            assert not any(password in output for password in passwords)

        # The relay delivers the day to the Bloomreach emulator: 10 sales and 2 refunds (the
        # anonymous sales have no customer to land on).
        purchases = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            purchases = _count_purchases(bloomreach_url)
            if purchases >= 12:
                break
            time.sleep(0.2)
        assert purchases == 12
        assert service.terminate() == 0
    logs = (tmp_path / "logs" / "run.stderr.log").read_text()
    assert not any(password in logs for password in passwords)


def _count_purchases(bloomreach_url: str) -> int:
    events = f"{bloomreach_url}/_sandbox/projects/{SANDBOX_TOKEN}/events"
    body = _get_json(f"{events}?event_type=purchase")
    return len(body["events"])
