"""What the serving processes keep resident: modules only `migrate`, the console or the
emulators need stay out of the core, the edge and the relay (each would cost every process
megabytes for its whole life; docs/operations.md, "Memory")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.databases import sqlite_url
from harness.processes import ROOT, cli

# Alembic brings Mako and Pygments; the console brings Jinja2.
NOT_IN_SERVING_PROCESSES = ("alembic", "mako", "pygments", "jinja2", "console", "sandbox")

# A serving process's imports (cli/main.py dispatches every command), then the core's
# start-up schema check against a migrated database.
PROBE = """
import asyncio, json, sys
import cli.main, core_service.bootstrap, core_service.server
from core_service.adapters.db.engine import create_engine
from core_service.adapters.db.schema_version import check_schema_current

async def check(url):
    engine = create_engine(url)
    try:
        await check_schema_current(engine)
    finally:
        await engine.dispose()

asyncio.run(check(sys.argv[1]))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_serving_processes_leave_migrate_and_the_console_out(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrated = cli(["migrate"], {"SITOO_BR_DATABASE_URL": url, "SITOO_BR_DATA_DIR": str(tmp_path)})
    assert migrated.returncode == 0, migrated.stderr
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, url], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr
    loaded = set(json.loads(probe.stdout))
    assert "sqlalchemy" in loaded  # the probe did import the serving code
    assert sorted(loaded.intersection(NOT_IN_SERVING_PROCESSES)) == []
