"""`sitoo-bloomreach retention run` against a real core: the dry run counts, the run deletes,
the core counts what it deleted."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

from sqlalchemy import text

from core_service.adapters.db.engine import create_engine
from harness.databases import SEED_INTEGRATION_SQL, query_rows, seed_integration_params
from harness.metrics import sample_value
from harness.stack import stack

DAY_S = 86400.0


async def _seed(url: str, now: float) -> None:
    old, young = now - 40 * DAY_S, now - DAY_S
    engine = create_engine(url)
    try:
        async with engine.begin() as c:
            await c.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
            await c.execute(
                text(
                    "INSERT INTO inbox_events (integration_id, event_id, event_type, event_date,"
                    " outcome, received_at) VALUES (1, :id, 'order', 0, 'accepted', :at)"
                ),
                [{"id": "old-1", "at": old}, {"id": "old-2", "at": old}, {"id": "y", "at": young}],
            )
            await c.execute(
                text(
                    "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state,"
                    " attempts, available_at, created_at, updated_at, finished_at, generation)"
                    " VALUES (1, :key, 'order', '{}', :state, 1, 0, :at, :at, :at, 0)"
                ),
                [
                    {"key": "a", "state": "delivered", "at": old},
                    {"key": "b", "state": "dead", "at": old},
                    {"key": "c", "state": "delivered", "at": young},
                ],
            )
            await c.execute(
                text(
                    "INSERT INTO quarantine (integration_id, received_at, reason, raw_body,"
                    " request_id) VALUES (1, :at, 'bad', :body, '')"
                ),
                {"at": old, "body": b"{"},
            )
    finally:
        await engine.dispose()


def test_retention_run_from_the_cli(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with stack(database_url, service_env, tmp_path / "logs") as s:
        s.start_core()
        asyncio.run(_seed(database_url, time.time()))

        dry = s.cli("retention", "run", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        lines = dry.stdout.splitlines()
        assert lines[0] == "retention: rows would be deleted (dry run)"
        assert lines[1].split()[:2] == ["inbox_events", "2"] and "kept 30 days" in lines[1]
        assert lines[2].split()[:2] == ["outbox_messages", "1"]
        assert lines[3].split()[:2] == ["quarantine", "1"]
        assert lines[4].split()[:2] == ["card_cache", "0"] and "integration TTL" in lines[4]
        assert lines[5].split()[:2] == ["total", "4"]

        ran = s.cli("retention", "run", "--json")
        assert ran.returncode == 0, ran.stderr
        report = json.loads(ran.stdout)
        assert report["dry_run"] is False
        assert {t: v["deleted"] for t, v in report["tables"].items()} == {
            "inbox_events": 2,
            "outbox_messages": 1,
            "quarantine": 1,
            "card_cache": 0,
        }

        metrics_url = f"http://{service_env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            exposition = response.read().decode()
        assert (
            sample_value(exposition, "core_retention_deleted_rows_total", table="inbox_events") == 2
        )

    left = asyncio.run(query_rows(database_url, "SELECT order_key FROM outbox_messages"))
    assert sorted(r[0] for r in left) == ["b", "c"]
    inbox = asyncio.run(query_rows(database_url, "SELECT event_id FROM inbox_events"))
    assert [r[0] for r in inbox] == ["y"]
