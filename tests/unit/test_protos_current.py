from __future__ import annotations

import subprocess
import sys

from harness.processes import ROOT


def test_generated_code_matches_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "current" in result.stdout
