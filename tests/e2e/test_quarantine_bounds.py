"""Quarantine is bounded (issue 11, item 5), with real processes on SQLite and PostgreSQL:
per integration at most `quarantine_max_bodies` bodies of `quarantine_max_bytes` in all, the
newest kept and the dropped ones counted; malformed batches beyond the per-integration rate
answer 429 with Retry-After (Sitoo retries it) and store nothing, while well-formed batches
and other integrations carry on."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest

from harness.customer_stack import integration_args
from harness.databases import query_rows
from harness.metrics import sample_value
from harness.stack import Stack, stack
from tests.support.raw_http import RawRequest, RawResponse, basic, send

pytestmark = pytest.mark.slow

CAPS_ENV = {
    "SITOO_BR_QUARANTINE_MAX_BODIES": "4",
    "SITOO_BR_QUARANTINE_MAX_BYTES": "2500",
    "SITOO_BR_QUARANTINE_BURST": "7",
    # One token every two minutes: nothing refills during the test.
    "SITOO_BR_QUARANTINE_BATCHES_PER_MINUTE": "0.5",
}
METRICS = (
    "core_quarantine_dropped_total",
    "core_quarantine_dropped_bytes_total",
    "core_webhook_malformed_rate_limited_total",
)


def _metrics(s: Stack) -> dict[str, float | None]:
    url = f"http://{s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode()
    return {name: sample_value(body, name) for name in METRICS}


async def _post(s: Stack, name: str, credential: tuple[str, str], body: bytes) -> RawResponse:
    request = RawRequest(
        "POST",
        f"/sitoo/{name}/events".encode(),
        ((b"Authorization", basic(*credential)),),
        body,
    )
    return await send("127.0.0.1", int(s.env["SITOO_BR_EDGE_PORT"]), request)


def _body(marker: str, size: int) -> bytes:
    # Not JSON, so malformed; the marker says which request it was.
    return (marker + "#" * size)[:size].encode()


async def _kept(database_url: str, integration: str) -> list[str]:
    rows = await query_rows(
        database_url,
        "SELECT i.name, q.raw_body FROM quarantine q"
        " JOIN integrations i ON i.id = q.integration_id ORDER BY q.id",
    )
    return [bytes(body).split(b"#")[0].decode() for name, body in rows if name == integration]


def test_quarantine_is_capped_and_rate_limited_per_integration(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with stack(database_url, {**service_env, **CAPS_ENV}, tmp_path / "logs") as s:
        s.start_core()
        s.start_edge()
        hooks = {}
        for name in ("alpha", "beta", "gamma"):
            created = s.create_integration(name, *integration_args("http://127.0.0.1:9"))
            credentials = created["credentials"]
            hooks[name] = (credentials["webhook_username"], credentials["webhook_password"])
        # Exported before anything happened, so an alert can rely on them.
        assert _metrics(s) == dict.fromkeys(METRICS, 0.0)

        async def scenario() -> None:
            # alpha: six 1,000-byte bodies; the byte cap (2,500) keeps the newest two.
            for i in range(1, 7):
                response = await _post(s, "alpha", hooks["alpha"], _body(f"a{i}", 1000))
                assert response.status == 400, response.body
            assert await _kept(database_url, "alpha") == ["a5", "a6"]
            # A small one fits beside them.
            assert (await _post(s, "alpha", hooks["alpha"], _body("a7", 20))).status == 400
            assert await _kept(database_url, "alpha") == ["a5", "a6", "a7"]
            # beta: six small bodies; the count cap (4) keeps the newest four. alpha's stay.
            for i in range(1, 7):
                assert (await _post(s, "beta", hooks["beta"], _body(f"b{i}", 20))).status == 400
            assert await _kept(database_url, "beta") == ["b3", "b4", "b5", "b6"]
            assert await _kept(database_url, "alpha") == ["a5", "a6", "a7"]
            # alpha has used its burst of 7 malformed batches: the 8th is a 429 to retry
            # later, with Sitoo's error body, and nothing is stored.
            limited = await _post(s, "alpha", hooks["alpha"], _body("a8", 20))
            assert limited.status == 429, limited.body
            assert int(limited.headers["retry-after"]) >= 60
            assert json.loads(limited.body)["error_code"] == "too-many-requests"
            assert await _kept(database_url, "alpha") == ["a5", "a6", "a7"]
            # Well-formed batches are not limited, and beta still has a token.
            event = {
                "event_id": "f" * 32,
                "event_type": "order",
                "event_date": 1700000000,
                "account_id": 1,
                "data": {"eshop_id": 1, "order_id": 9, "order_event_type": "created"},
            }
            good = await _post(s, "alpha", hooks["alpha"], json.dumps([event]).encode())
            assert good.status == 200, good.body
            assert (await _post(s, "beta", hooks["beta"], _body("b7", 20))).status == 400
            assert await _kept(database_url, "beta") == ["b4", "b5", "b6", "b7"]
            # gamma: seven at once; concurrent writes still leave exactly the cap.
            answers = await asyncio.gather(
                *(_post(s, "gamma", hooks["gamma"], _body(f"g{i}", 20)) for i in range(7))
            )
            assert [a.status for a in answers] == [400] * 7
            assert len(await _kept(database_url, "gamma")) == 4

        asyncio.run(scenario())
        assert _metrics(s) == {
            "core_quarantine_dropped_total": 4 + 3 + 3,
            "core_quarantine_dropped_bytes_total": 4 * 1000 + 3 * 20 + 3 * 20,
            "core_webhook_malformed_rate_limited_total": 1,
        }
