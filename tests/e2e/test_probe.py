"""`python -m cli.probe core`, the Kubernetes exec probe of the core (deploy/kubernetes):
the standard gRPC health check over the same transport the edge uses, TLS included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT, free_port
from harness.stack import stack
from tests.e2e.test_lifecycle import _certificate


def probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.probe", "core", "--timeout", "5"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_probe_answers_serving_over_tls_and_fails_when_the_core_is_gone(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    env = {
        **service_env,
        "SITOO_BR_CORE_TLS_CERT_FILE": str(cert),
        "SITOO_BR_CORE_TLS_KEY_FILE": str(key),
        "SITOO_BR_CORE_TLS_CA_FILE": str(cert),
    }
    with stack(sqlite_database_url, env, tmp_path / "logs") as s:
        s.start_core()
        served = probe(s.env)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip() == "SERVING"
        # Without the CA it cannot speak TLS to the core: not serving, as far as it can tell.
        plain = {k: v for k, v in s.env.items() if k != "SITOO_BR_CORE_TLS_CA_FILE"}
        assert probe(plain).returncode == 1
    nobody = {**env, "SITOO_BR_CORE_TARGET": f"127.0.0.1:{free_port()}"}
    gone = probe(nobody)
    assert gone.returncode == 1
    assert "unreachable" in gone.stderr
