"""deploy/compose/make_secrets.py makes what the Compose stack's core and clients need: a
core certificate for the names the stack uses, a client certificate the core accepts (mTLS),
keys and tokens readable by their owner only, and nothing new on a second run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT
from harness.stack import stack
from tests.e2e.test_probe import probe

SCRIPT = ROOT / "deploy" / "compose" / "make_secrets.py"


def make_secrets(directory: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(directory)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_made_once_and_private(tmp_path: Path) -> None:
    first = make_secrets(tmp_path)
    assert "master.key" in first and "TLS" in first
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "master.key",
        "service.token",
        "admin.token",
        "console-session.key",
        "ca.crt",
        "core.crt",
        "core.key",
        "client.crt",
        "client.key",
    }
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert all(p.stat().st_mode & 0o777 == 0o400 for p in tmp_path.iterdir())
    assert "nothing" in make_secrets(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_core_serves_mtls_with_them(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    make_secrets(secrets)
    server = {
        **service_env,
        "SITOO_BR_MASTER_KEY": (secrets / "master.key").read_text().strip(),
        "SITOO_BR_CORE_TLS_CERT_FILE": str(secrets / "core.crt"),
        "SITOO_BR_CORE_TLS_KEY_FILE": str(secrets / "core.key"),
        "SITOO_BR_CORE_TLS_CLIENT_CA_FILE": str(secrets / "ca.crt"),
    }
    with stack(sqlite_database_url, server, tmp_path / "logs") as s:
        s.start_core()
        client = {
            **s.env,
            "SITOO_BR_CORE_TLS_SERVER_NAME": "core",  # as compose.yaml's clients name it
            "SITOO_BR_CORE_TLS_CA_FILE": str(secrets / "ca.crt"),
            "SITOO_BR_CLIENT_TLS_CERT_FILE": str(secrets / "client.crt"),
            "SITOO_BR_CLIENT_TLS_KEY_FILE": str(secrets / "client.key"),
        }
        served = probe(client)
        assert served.returncode == 0, served.stderr
        # Without the client certificate the core refuses the handshake.
        anonymous = {k: v for k, v in client.items() if not k.startswith("SITOO_BR_CLIENT_TLS")}
        assert probe(anonymous).returncode == 1
