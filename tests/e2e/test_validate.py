"""`integration validate` against the emulators, as real processes: a correct integration
passes every check (round trip included, test customer anonymized afterwards); each broken
setting fails its check with the remedy that names the setting or permission to fix."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from core_service.crypto import MasterKey
from harness.databases import sqlite_url
from harness.order_stack import ACCOUNT, SITOO_API_ID, SITOO_PASSWORD, TOKEN, OrderStack
from harness.order_stack import order_stack as make_order_stack
from harness.processes import free_port
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_SECRET

LIMITED_KEY, LIMITED_SECRET = "limited-key", "limited-secret"
# A key whose group may add purchase and consent events but not purchase_item.
LIMITED_PERMISSIONS = json.dumps({"events_set": ["purchase", "consent"]})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderStack]:
    tmp = tmp_path_factory.mktemp("validate")
    # The edge's port is chosen up front: the core probes its public URL when it validates.
    edge_port = free_port()
    env = {
        "SITOO_BR_DATA_DIR": str(tmp / "data"),
        "SITOO_BR_MASTER_KEY": MasterKey.generate(),
        "SITOO_BR_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_CORE_LISTEN": "127.0.0.1:0",
        "SITOO_BR_EDGE_PORT": str(edge_port),
        "SITOO_BR_CORE_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "SITOO_BR_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}",
        "SITOO_BR_VALIDATION_DELIVERY_TIMEOUT_SECONDS": "30",
    }
    bloomreach_args = (
        "--key-id", DEFAULT_KEY_ID, "--secret", DEFAULT_SECRET,
        "--key-id", LIMITED_KEY, "--secret", LIMITED_SECRET,
        "--permissions", f"{LIMITED_KEY}={LIMITED_PERMISSIONS}",
    )  # fmt: skip
    with make_order_stack(sqlite_url(tmp), env, tmp / "logs", bloomreach_args=bloomreach_args) as o:
        yield o


def integration(o: OrderStack, name: str, **overrides: str) -> None:
    settings = {
        "--company": "Acme AB",
        "--market": "se",
        "--bloomreach-url": o.bloomreach_url,
        "--project-token": TOKEN,
        "--key-id": DEFAULT_KEY_ID,
        "--bloomreach-secret": DEFAULT_SECRET,
        "--sitoo-account": str(ACCOUNT),
        "--sitoo-url": o.sitoo_url,
        "--sitoo-api-id": SITOO_API_ID,
        "--sitoo-password": SITOO_PASSWORD,
        "--consent": "newsletter=newsletter,default=yes,label=Newsletter",
        "--map": "name_first=properties.first_name",
    }
    settings.update(overrides)
    args = [part for pair in settings.items() for part in pair]
    o.s.create_integration(name, *args)


def validate(o: OrderStack, name: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = o.s.cli("integration", "validate", name, "--json", *extra)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


async def test_a_correct_integration_passes_every_check(stack: OrderStack) -> None:
    integration(stack, "good")
    code, report = validate(stack, "good")
    by_name = checks(report)
    failed = {n: c for n, c in by_name.items() if not c["passed"]}
    assert code == 0 and report["passed"], failed
    assert not failed
    assert set(by_name) == {
        "bloomreach_circuit",
        "bloomreach_credentials",
        "bloomreach_read_permissions",
        "consent_categories",
        "sitoo_credentials",
        "edge_reachable",
        "customer_creation",
        "customer_lookup",
        "bloomreach_write_permissions",
        "order_tracking",
        "test_customer_anonymized",
    }
    # The test order went through the real outbox and a relay, and is marked as a test.
    purchases = [
        e
        for e in await stack.bloomreach_events("purchase")
        if e["properties"].get("validation") is True
        and str(e["properties"]["purchase_id"]).startswith("sitoo-bloomreach-validation-")
    ]
    assert len(purchases) == 1
    rows = await stack.sql(
        "SELECT kind, state FROM outbox_messages WHERE order_key LIKE 'validation:%'"
    )
    assert rows == [("validation", "delivered")]
    # The test customer is anonymized: no profile holds its hard ID any more.
    hard_id = purchases[0]["customer_ids"]["registered"]
    assert hard_id.startswith("sitoo-bloomreach-validation-")
    found = await stack.emulator(
        stack.bloomreach_url, "GET", f"/_sandbox/projects/{TOKEN}/customers?registered={hard_id}"
    )
    assert found["customers"] == []


def test_checklist_text_and_skip_round_trip(stack: OrderStack) -> None:
    integration(stack, "readonly")
    result = stack.s.cli("integration", "validate", "readonly", "--skip-round-trip")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[PASS] bloomreach_credentials" in result.stdout
    assert "[SKIP] customer_creation: skipped: --skip-round-trip" in result.stdout
    assert "All checks passed." in result.stdout


def test_wrong_bloomreach_secret(stack: OrderStack) -> None:
    integration(stack, "badsecret", **{"--bloomreach-secret": "not-the-secret"})
    code, report = validate(stack, "badsecret")
    check = checks(report)["bloomreach_credentials"]
    assert code == 1 and not report["passed"]
    assert not check["passed"]
    assert "403" in check["detail"]
    assert "API secret" in check["remedy"] and "--bloomreach-secret-file" in check["remedy"]
    assert checks(report)["customer_creation"]["skipped"]
    # The plain checklist says the same, with the fix under the failed line.
    text = stack.s.cli("integration", "validate", "badsecret", "--skip-round-trip")
    assert text.returncode == 1
    assert "[FAIL] bloomreach_credentials" in text.stdout
    assert "fix: check the integration's Bloomreach API key ID" in text.stdout


def test_missing_event_permission(stack: OrderStack) -> None:
    integration(
        stack,
        "noitems",
        **{"--key-id": LIMITED_KEY, "--bloomreach-secret": LIMITED_SECRET},
    )
    code, report = validate(stack, "noitems")
    by_name = checks(report)
    assert code == 1
    assert by_name["bloomreach_credentials"]["passed"]
    assert by_name["customer_creation"]["passed"]
    write = by_name["bloomreach_write_permissions"]
    assert not write["passed"]
    assert "Events > Set for 'purchase_item'" in write["remedy"]
    assert "'purchase'" not in write["detail"].replace("'purchase_item'", "")
    assert LIMITED_KEY in write["remedy"]
    tracking = by_name["order_tracking"]
    assert not tracking["passed"]
    assert "Events > Set" in tracking["remedy"]
    assert by_name["test_customer_anonymized"]["passed"]


def test_unknown_consent_category(stack: OrderStack) -> None:
    integration(stack, "badconsent", **{"--consent": "club=vip_club,label=VIP club"})
    code, report = validate(stack, "badconsent", "--skip-round-trip")
    check = checks(report)["consent_categories"]
    assert code == 1
    assert not check["passed"]
    assert "vip_club" in check["detail"]
    assert "Privacy management > Consents" in check["remedy"]
    assert "newsletter" in check["remedy"]  # the categories that do exist


def test_wrong_sitoo_password(stack: OrderStack) -> None:
    integration(stack, "badsitoo", **{"--sitoo-password": "wrong-password"})
    code, report = validate(stack, "badsitoo", "--skip-round-trip")
    by_name = checks(report)
    check = by_name["sitoo_credentials"]
    assert code == 1
    assert not check["passed"]
    assert "401" in check["detail"]
    assert "Sitoo REST API" in check["remedy"] and "--sitoo-password-file" in check["remedy"]
    assert by_name["bloomreach_credentials"]["passed"]
