from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from runtime.settings import ConfigurationError, load_settings, read_secret


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("var/sitoo-bloomreach.db")
    assert settings.core_listen.startswith("127.0.0.1:")
    assert settings.edge_host == "127.0.0.1"


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITOO_BR_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("SITOO_BR_RELAY_RETRY_SCHEDULE", "[0, 1, 2]")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql+asyncpg://u@h/db"
    assert settings.relay_retry_schedule == (0.0, 1.0, 2.0)


def test_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text('edge_port = 9999\nlog_level = "debug"\n')
    monkeypatch.setenv("SITOO_BR_SETTINGS_FILE", str(file))
    settings = load_settings()
    assert settings.edge_port == 9999
    assert settings.log_level == "DEBUG"


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITOO_BR_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigurationError, match="log_level"):
        load_settings()


def test_secret_from_value_or_file(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("from-file\n")
    assert read_secret(SecretStr("direct"), None, "ADMIN_TOKEN") == "direct"
    assert read_secret(None, file, "ADMIN_TOKEN") == "from-file"
    with pytest.raises(ConfigurationError, match="ADMIN_TOKEN or SITOO_BR_ADMIN_TOKEN_FILE"):
        read_secret(None, None, "ADMIN_TOKEN")
    with pytest.raises(ConfigurationError, match="either"):
        read_secret(SecretStr("a"), file, "ADMIN_TOKEN")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        read_secret(None, tmp_path / "missing", "ADMIN_TOKEN")


def test_retention_defaults_and_their_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (
        settings.retention_inbox_days,
        settings.retention_finished_days,
        settings.retention_quarantine_days,
        settings.retention_interval_seconds,
    ) == (30, 30, 30, 3600.0)
    assert load_settings(retention_interval_seconds=0).retention_interval_seconds == 0
    # The inbox must outlive Sitoo's ~24 h of retries.
    monkeypatch.setenv("SITOO_BR_RETENTION_INBOX_DAYS", "1")
    with pytest.raises(ConfigurationError, match="retention_inbox_days"):
        load_settings()
    monkeypatch.delenv("SITOO_BR_RETENTION_INBOX_DAYS")
    assert load_settings(retention_inbox_days=2).retention_inbox_days == 2
    with pytest.raises(ConfigurationError, match="retention_finished_days"):
        load_settings(retention_finished_days=1)
    with pytest.raises(ConfigurationError, match="retention_interval_seconds"):
        load_settings(retention_interval_seconds=-1)
    # Messages reconcile still asks about are never purged.
    with pytest.raises(ConfigurationError, match="reconcile_window_hours"):
        load_settings(retention_finished_days=3, reconcile_window_hours=72)
    assert load_settings(retention_finished_days=4, reconcile_window_hours=72)


def test_quarantine_bounds_defaults_and_floors() -> None:
    settings = load_settings()
    assert (
        settings.quarantine_max_bodies,
        settings.quarantine_max_bytes,
        settings.quarantine_batches_per_minute,
        settings.quarantine_burst,
    ) == (1000, 64 * 1024 * 1024, 30.0, 20)
    # A bound of 0 would be no quarantine at all (or no malformed batch ever taken).
    for name in (
        "quarantine_max_bodies",
        "quarantine_max_bytes",
        "quarantine_batches_per_minute",
        "quarantine_burst",
    ):
        with pytest.raises(ConfigurationError, match=name):
            load_settings(**{name: 0})


def test_every_answer_stays_inside_the_pos_timeout() -> None:
    # Sitoo's POS gives up after 10 s; the edge's deadline for the core must end before.
    assert load_settings().edge_core_deadline_seconds == 8.0
    assert load_settings(edge_core_deadline_seconds=9.5).edge_core_deadline_seconds == 9.5
    with pytest.raises(ConfigurationError, match="edge_core_deadline_seconds"):
        load_settings(edge_core_deadline_seconds=10)
    with pytest.raises(ConfigurationError, match="bloomreach_call_slots"):
        load_settings(bloomreach_call_slots=0)
