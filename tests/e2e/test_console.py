"""The console in a real browser: Debian's headless Chromium driven by Playwright, against real
processes (Bloomreach emulator, core, edge, console) and real gRPC.

Screenshots of every page go to test-artifacts/console/.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from core_service.crypto import MasterKey
from harness.order_stack import RELOAD_REQUESTED
from harness.processes import ROOT, Service, cli, free_port, running
from harness.stack import Stack, stack
from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET
from sandbox.driver.pos_client import PosClient
from sandbox.driver.scenario import (
    ExpectedOutcome,
    SitooOrdersClient,
    StoreDayConfig,
    run_store_day,
)
from sandbox.driver.webhooks import EventSender, RetrySchedule

if TYPE_CHECKING:
    from playwright.sync_api import Page, expect, sync_playwright
else:
    # At run time a machine without the browser skips this module instead of failing.
    playwright_api = pytest.importorskip("playwright.sync_api")
    Page = playwright_api.Page
    expect = playwright_api.expect
    sync_playwright = playwright_api.sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "console"

pytestmark = [
    pytest.mark.slow,
    # Outside CI a developer without Chromium may skip; CI installs it, so there it must run.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is missing: run scripts/install_browser.sh",
    ),
]


@dataclass
class Console:
    stack: Stack
    url: str
    bloomreach_url: str
    sitoo_url: str
    database: Path
    admin_token: str
    relay: Service
    # Credentials issued to integrations created through the CLI: {"spi": (u, p), "webhook": …}
    credentials: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    # The edge's port is chosen up front: the core and the console show and probe its URL.
    edge_port = free_port()
    # The edge as Sitoo would reach it: shown on the Sitoo page, probed by validation.
    edge_public_url = f"http://127.0.0.1:{edge_port}"
    env = {
        "SITOO_BR_DATA_DIR": str(tmp / "data"),
        "SITOO_BR_MASTER_KEY": MasterKey.generate(),
        "SITOO_BR_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "SITOO_BR_CORE_LISTEN": "127.0.0.1:0",
        "SITOO_BR_EDGE_PORT": str(edge_port),
        "SITOO_BR_CORE_METRICS_LISTEN": "",
        "SITOO_BR_CONSOLE_PORT": "0",
        "SITOO_BR_EDGE_PUBLIC_URL": edge_public_url,
        "SITOO_BR_LOG_LEVEL": "INFO",
        "SITOO_BR_RELAY_METRICS_LISTEN": "",
        "SITOO_BR_RELAY_POLL_INTERVAL_SECONDS": "0.1",
        "SITOO_BR_RELAY_CONFIG_REFRESH_SECONDS": "0.5",
    }
    database = tmp / "console.db"
    log_dir = tmp / "logs"
    with (
        running(
            "bloomreach", ["-m", "sandbox.bloomreach", "--port", "0"], env, log_dir, "listening"
        ) as bloomreach,
        running(
            "sitoo", ["-m", "sandbox.sitoo_api", "--port", "0"], env, log_dir, "listening"
        ) as sitoo,
        stack(f"sqlite+aiosqlite:///{database}", env, log_dir) as s,
    ):
        s.start_core()
        s.start_edge()
        with (
            # Validation's round trip tracks a test order through the relay.
            running("relay", ["-m", "cli.main", "relay"], s.env, log_dir, "relay running") as relay,
            running(
                "console", ["-m", "cli.main", "console"], s.env, log_dir, "console listening"
            ) as console,
        ):
            yield Console(
                s,
                f"http://127.0.0.1:{console.port}",
                f"http://127.0.0.1:{bloomreach.port}",
                f"http://127.0.0.1:{sitoo.port}",
                database,
                env["SITOO_BR_ADMIN_TOKEN"],
                relay,
            )


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, console: Console) -> None:
    page.goto(console.url + "/")
    if "/signin" in page.url:
        page.get_by_label("Admin token").fill(console.admin_token)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()


def integration_json(console: Console, name: str) -> dict[str, object]:
    result = console.stack.cli("integration", "show", name, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def create_via_cli(console: Console, name: str, secret: str = DEFAULT_SECRET) -> None:
    created = console.stack.create_integration(
        name,
        "--company",
        "Ops AB",
        "--market",
        "SE",
        "--bloomreach-url",
        console.bloomreach_url,
        "--project-token",
        DEFAULT_PROJECT_TOKEN,
        "--key-id",
        DEFAULT_KEY_ID,
        "--bloomreach-secret",
        secret,
        "--sitoo-account",
        "1500",
        "--sitoo-url",
        console.sitoo_url,
        "--sitoo-api-id",
        "1500-1",
        "--sitoo-password",
        "sandbox-password",
        "--consent",
        "newsletter=newsletter,label=Newsletter",
        "--channel",
        "email=newsletter",
    )
    assert created["integration"]["name"] == name
    issued = created["credentials"]
    console.credentials[name] = {
        "spi": (issued["spi_username"], issued["spi_password"]),
        "webhook": (issued["webhook_username"], issued["webhook_password"]),
    }


def test_sign_in_refuses_a_wrong_token_and_sets_strict_cookies(
    console: Console, browser_page: Page
) -> None:
    page = browser_page
    page.goto(console.url + "/")
    assert page.url.endswith("/signin")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not the admin token")
    shot(page, "01-signin-refused")
    sign_in(page, console)
    cookies = page.context.cookies(console.url)
    session = next(c for c in cookies if c["name"] == "sitoo_br_console")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert console.admin_token not in session["value"]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(console.url + "/integrations/new")
    assert page.url.endswith("/signin")


def test_every_post_needs_the_session_csrf_token(console: Console) -> None:
    # Sync HTTP: the browser's event loop owns this thread.
    with httpx.Client(base_url=console.url, follow_redirects=False) as http:
        page = http.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"admin_token": console.admin_token}
        assert http.post("/signin", data=form).status_code == 403  # no CSRF token
        form["csrf_token"] = token.group(1)
        assert http.post("/signin", data=form).status_code == 303
        response = http.get("/integrations/new")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        forged = {"name": "forged", "company": "X", "market": "SE", "csrf_token": "guess"}
        assert http.post("/integrations/new", data=forged).status_code == 403
    listed = console.stack.cli_json("integration", "list")
    assert "forged" not in json.dumps(listed)


def test_guessing_the_admin_token_is_throttled(console: Console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False) as http:
        page = http.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        wrong = {"admin_token": "guess", "csrf_token": token.group(1)}
        right = {"admin_token": console.admin_token, "csrf_token": token.group(1)}
        # Five mistakes are free; the sixth locks this address out for a second, during which
        # even the right token is refused.
        statuses = [http.post("/signin", data=wrong).status_code for _ in range(6)]
        assert statuses == [401] * 6
        locked = http.post("/signin", data=right)
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "1"
        assert "Too many wrong tokens" in locked.text
        time.sleep(1.1)
        assert http.post("/signin", data=right).status_code == 303
    # The success cleared the address: mistakes are free again (uncleared, the second of
    # these would be refused as locked out).
    with httpx.Client(base_url=console.url, follow_redirects=False) as http:
        page = http.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        wrong = {"admin_token": "guess", "csrf_token": token.group(1)}
        assert [http.post("/signin", data=wrong).status_code for _ in range(2)] == [401, 401]


def test_setup_step_by_step_shows_credentials_once_and_keeps_secrets_write_only(
    console: Console, browser_page: Page
) -> None:
    page = browser_page
    sign_in(page, console)
    shot(page, "02-integrations-empty")

    # 1. Add the integration; an inline message first, then the credentials, once.
    page.get_by_role("link", name="+ Add integration").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Nordic Shop")
    page.get_by_label("Company").fill("Nordic Retail AB")
    page.get_by_label("Market").fill("se")
    page.get_by_role("button", name="Save integration").click()
    expect(page.locator("#name-error")).to_contain_text("lower-case letters")
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("textbox", name="Name", exact=True).fill("nordic")
    page.get_by_role("button", name="Save integration").click()
    expect(page.get_by_role("heading", name="Integration nordic created")).to_be_visible()
    spi_password = page.locator("#spi-password").inner_text()
    webhook_password = page.locator("#webhook-password").inner_text()
    assert len(spi_password) >= 20 and len(webhook_password) >= 20
    expect(page.locator("button[data-copy=spi-password]")).to_be_visible()
    shot(page, "03-credentials-once")
    page.get_by_role("link", name="I have stored them: continue").click()

    # 2. Authenticate: the Test button tries what is typed, before saving.
    assert page.url.endswith("/integrations/nordic/authenticate")
    page.get_by_label("API URL", exact=True).fill(console.bloomreach_url)
    page.get_by_label("Project token").fill(DEFAULT_PROJECT_TOKEN)
    page.get_by_label("API key ID (username)").fill(DEFAULT_KEY_ID)
    page.get_by_label("API secret (password)").fill("wrong-secret")
    page.get_by_role("button", name="Test Bloomreach access").click()
    expect(page.locator("#check-result .fail")).to_contain_text("refused the API key")
    expect(page.locator("#check-result .remedy")).to_contain_text("API key ID and secret")
    shot(page, "04-authenticate-test-failed")
    page.get_by_label("API secret (password)").fill(DEFAULT_SECRET)
    page.get_by_role("button", name="Test Bloomreach access").click()
    expect(page.locator("#check-result .ok")).to_contain_text("accepted the project token")
    page.get_by_role("button", name="Save and continue").click()

    # 3. Customer matching: email feeds the one hard ID.
    expect(page.get_by_role("heading", name="3. Customer matching")).to_be_visible()
    expect(page.get_by_label("Sitoo field that feeds the hard ID")).to_have_value("email")
    expect(page.get_by_label("Bloomreach hard ID name")).to_have_value("registered")
    shot(page, "05-matching")
    page.get_by_role("button", name="Save and continue").click()

    # 4. Property mapping: sensible defaults, an inline message for a bad target.
    expect(page.get_by_role("heading", name="4. Property mapping")).to_be_visible()
    targets = page.locator("input[name^=target_]")
    values = [targets.nth(i).input_value() for i in range(targets.count())]
    assert "ids.phone_id" in values and "properties.phone" in values
    assert "properties.first_name" in values
    blank = values.index("")
    page.locator(f"#sitoo_field_{blank}").select_option("personal_id")
    page.locator(f"#target_{blank}").fill("personal-number")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(f"#target_{blank}-error")).to_contain_text("properties.<name>")
    shot(page, "06-mapping-inline-error")
    page.locator(f"#target_{blank}").fill("properties.personal_id")
    page.get_by_role("button", name="Save and continue").click()

    # 5. Consents: the project's real categories, fetched from (emulated) Bloomreach.
    expect(page.get_by_role("heading", name="5. Consents")).to_be_visible()
    rows = page.locator("#consents-table tbody tr")
    categories = sorted(rows.nth(i).get_attribute("data-category") or "" for i in range(2))
    assert categories == ["newsletter", "sms"]
    newsletter = page.locator("tr[data-category=newsletter]")
    newsletter.get_by_role("checkbox").check()
    newsletter.locator("select").select_option("yes")
    page.get_by_label("E-mail", exact=True).select_option("newsletter")
    shot(page, "07-consents")
    page.get_by_role("button", name="Save and continue").click()

    # 6. What to paste into Sitoo: URLs and usernames, never the passwords again.
    expect(page.get_by_role("heading", name="6. Set up Sitoo")).to_be_visible()
    expect(page.locator("#crm-base-url")).to_have_text(f"{console.stack.edge_url}/sitoo/nordic")
    expect(page.locator("#events-url")).to_have_text(
        f"{console.stack.edge_url}/sitoo/nordic/events"
    )
    expect(page.locator("#crm-username")).to_have_text("nordic-spi")
    content = page.content()
    assert spi_password not in content and webhook_password not in content
    shot(page, "08-sitoo-settings")

    # The secret is stored, never shown: the field is empty and says so.
    page.goto(console.url + "/integrations/nordic/authenticate")
    secret_field = page.get_by_label("API secret (password)")
    expect(secret_field).to_have_value("")
    expect(secret_field).to_have_attribute("placeholder", re.compile("stored"))
    assert DEFAULT_SECRET not in page.content()

    # The core holds what the pages said (no second source of truth).
    stored = integration_json(console, "nordic")
    assert stored["company"] == "Nordic Retail AB" and stored["market"] == "SE"
    assert stored["bloomreach"]["has_api_secret"] is True  # type: ignore[index]
    mappings = {(m["sitoo_field"], m["target"]) for m in stored["field_mappings"]}  # type: ignore[attr-defined]
    assert ("personal_id", "properties.personal_id") in mappings
    assert ("email", "ids.email_id") in mappings
    assert stored["consent_types"] == [
        {
            "consent_id": "newsletter",
            "category": "newsletter",
            "label": "Newsletter",
            "default_value": True,
        }
    ]
    assert stored["channel_categories"] == {"email": "newsletter"}

    # A new webhook password, shown once; the SPI one is not reissued.
    page.goto(console.url + "/integrations/nordic/sitoo")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="New webhook password").click()
    expect(page.get_by_role("heading", name="New credentials for nordic")).to_be_visible()
    rotated = page.locator("#webhook-password").inner_text()
    assert rotated and rotated != webhook_password
    assert page.locator("#spi-password").count() == 0


def test_validate_shows_the_checklist_and_the_remedy(console: Console, browser_page: Page) -> None:
    create_via_cli(console, "validated")
    page = browser_page
    sign_in(page, console)
    page.goto(console.url + "/integrations/validated/validate")
    # The round trip (test customer, test order through the relay) takes a few seconds.
    page.get_by_role("button", name="Validate").click(timeout=120_000)
    expect(page.locator(".checklist")).to_be_visible(timeout=120_000)
    shot(page, "09-validate")
    expect(page.locator(".verdict")).to_contain_text("All checks passed")
    assert page.locator(".checklist li.fail").count() == 0

    # Break the Bloomreach secret: validation fails and says what to do.
    page.goto(console.url + "/integrations/validated/authenticate")
    page.get_by_label("API secret (password)").fill("broken-secret")
    page.get_by_role("button", name="Save and continue").click()
    page.goto(console.url + "/integrations/validated/validate")
    page.get_by_role("button", name="Validate").click(timeout=120_000)
    expect(page.locator(".verdict")).to_contain_text("Some checks failed", timeout=120_000)
    failed = page.locator(".checklist li.fail").first
    expect(failed.locator(".remedy")).to_be_visible()
    shot(page, "10-validate-failed")


def _play_day(console: Console, name: str, config: StoreDayConfig) -> ExpectedOutcome:
    """A store day from the Sitoo-side driver: POS calls on the edge, orders in the Sitoo
    emulator, webhooks delivered like Sitoo's queue."""
    credentials = console.credentials[name]

    async def go() -> ExpectedOutcome:
        pos = PosClient(console.stack.edge_url, name, *credentials["spi"])
        sitoo = SitooOrdersClient(console.sitoo_url, 1500, "1500-1", "sandbox-password")
        sender = EventSender.for_integration(
            console.stack.edge_url,
            name,
            username=credentials["webhook"][0],
            password=credentials["webhook"][1],
            schedule=RetrySchedule.of(*([0.3] * 10)),
        )
        try:
            async with pos, sender as events:
                return await run_store_day(config, pos, sitoo, events)
        finally:
            await sitoo.close()

    # Playwright's sync API owns this thread's event loop: the driver gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def _settled_counts(console: Console, name: str, *, dead: int = 0) -> dict[str, int]:
    """Outbox counts once the relay has nothing open (and at least ``dead`` are dead)."""
    for _ in range(600):
        stats = console.stack.cli_json("outbox", "stats", "--integration", name)
        counts = {k: int(v) for k, v in stats.get("counts_by_state", {}).items()}
        if counts.get("pending", 0) + counts.get("in_flight", 0) == 0 and (
            counts.get("dead", 0) >= dead
        ):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"the outbox did not settle: {counts}")


def _reload_relay_settings(console: Console) -> None:
    """The relay re-reads integration settings before its next message (not after its cache)."""
    console.relay.process.send_signal(signal.SIGHUP)
    console.relay.wait_for_line(RELOAD_REQUESTED)


def _post_malformed_batch(console: Console, name: str) -> None:
    user, password = console.credentials[name]["webhook"]
    response = httpx.post(
        f"{console.stack.edge_url}/sitoo/{name}/events",
        content=b"{oops",
        auth=(user, password),
        headers={"X-Request-ID": "req-quarantined-1", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text


def test_operations_counts_move_and_dead_messages_replay(
    console: Console, browser_page: Page
) -> None:
    create_via_cli(console, "ops")
    page = browser_page
    sign_in(page, console)
    page.goto(console.url + "/integrations/ops/operations")
    expect(page.locator('[data-stat="delivered"]')).to_have_text("0")
    expect(page.locator("#validation-result")).to_contain_text("Not validated yet")
    # Issue 15 §3: the project's circuit breaker, closed while Bloomreach answers.
    expect(page.locator("#circuit")).to_have_attribute("data-circuit-state", "closed")
    expect(page.locator('[data-circuit="state"]')).to_have_text("closed")
    assert page.evaluate("() => (window.__notReloaded = true)") is True

    # A store day: the numbers move on the open page, without a reload.
    day = StoreDayConfig(customers=3, sales=6, refunds=1, anonymous=1, seed=5, run_tag="ops")
    expected = _play_day(console, "ops", day)
    counts = _settled_counts(console, "ops")
    assert counts["delivered"] >= len(expected.purchases)
    for state in ("delivered", "skipped", "dead"):
        expect(page.locator(f'[data-stat="{state}"]')).to_have_text(str(counts.get(state, 0)))
    assert page.evaluate("() => window.__notReloaded === true")
    _post_malformed_batch(console, "ops")
    page.reload()  # the lists (unlike the counts) render with the page
    recent = page.locator("#recent-table")
    expect(recent).to_contain_text(str(expected.purchases[-1].order_id))
    expect(page.locator("#quarantine-table")).to_contain_text("req-quarantined-1")
    # The last validation is the core's record, whoever ran it (here the CLI, not this console).
    validated = console.stack.cli("integration", "validate", "ops", "--skip-round-trip")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    page.reload()
    expect(page.locator(".verdict")).to_contain_text("All checks passed")
    expect(page.locator('.checklist li.skipped[data-check-name="order_tracking"]')).to_be_visible()
    shot(page, "11-operations")

    # Broken Bloomreach credentials: the next sales die (auth failures are permanent) ...
    assert (
        console.stack.cli(
            "integration", "update", "ops", "--bloomreach-secret", "broken-secret"
        ).returncode
        == 0
    )
    _reload_relay_settings(console)
    broken_day = StoreDayConfig(
        customers=1,
        sales=2,
        refunds=0,
        anonymous=0,
        seed=6,
        run_tag="ops-broken",
        create_customers_via_spi=False,
    )
    _play_day(console, "ops", broken_day)
    broken = _settled_counts(console, "ops", dead=2)
    expect(page.locator('[data-stat="dead"]')).to_have_text(str(broken["dead"]))
    page.reload()
    expect(page.locator("#dead-table")).to_contain_text("Bloomreach")

    # ... and replay delivers them once the secret is fixed: one, then all the rest.
    assert (
        console.stack.cli(
            "integration", "update", "ops", "--bloomreach-secret", DEFAULT_SECRET
        ).returncode
        == 0
    )
    _reload_relay_settings(console)
    page.get_by_role("button", name=re.compile(r"Replay message \d+")).first.click()
    expect(page.locator(".flash")).to_contain_text("Replayed 1 message(s).")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Replay all dead").click()
    expect(page.locator(".flash")).to_contain_text("Replayed")
    fixed = _settled_counts(console, "ops")
    assert fixed.get("dead", 0) == 0
    assert fixed["delivered"] == broken["delivered"] + broken["dead"]
    expect(page.locator('[data-stat="dead"]')).to_have_text("0")
    expect(page.locator('[data-stat="delivered"]')).to_have_text(str(fixed["delivered"]))
    shot(page, "12-operations-replayed")


def test_pages_work_on_a_tablet(console: Console, browser_page: Page) -> None:
    page = browser_page
    sign_in(page, console)
    page.set_viewport_size({"width": 768, "height": 1024})
    try:
        page.goto(console.url + "/integrations/nordic/mapping")
        expect(page.get_by_role("heading", name="4. Property mapping")).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 768, "the page scrolls sideways on a tablet"
        # Keyboard: the skip link is the first stop and leads to the content.
        page.keyboard.press("Tab")
        expect(page.locator("a.skip")).to_be_focused()
        shot(page, "13-mapping-tablet")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_a_core_that_is_down_gives_a_clear_page(
    console: Console, browser_page: Page, tmp_path: Path
) -> None:
    # Runs last: it stops nothing shared, it starts a second console against a dead port.
    env = {
        **console.stack.env,
        "SITOO_BR_CONSOLE_PORT": "0",
        # Nothing listens there (a port free a moment ago; at worst something else answers
        # and the call fails all the same).
        "SITOO_BR_CORE_TARGET": f"127.0.0.1:{free_port()}",
        "SITOO_BR_CONSOLE_CORE_DEADLINE_SECONDS": "2",
    }
    with running(
        "console-nocore", ["-m", "cli.main", "console"], env, tmp_path, "console listening"
    ) as s:
        page = browser_page
        page.goto(f"http://127.0.0.1:{s.port}/signin")
        page.get_by_label("Admin token").fill(console.admin_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="The core is unreachable")).to_be_visible()


def test_console_refuses_plain_http_off_loopback(console: Console) -> None:
    result = cli(["console"], {**console.stack.env, "SITOO_BR_CONSOLE_HOST": "0.0.0.0"})
    assert result.returncode == 78
    assert "HTTPS" in result.stderr
