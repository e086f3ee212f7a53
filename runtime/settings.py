"""Process settings: one object, read from ``SITOO_BR_*`` environment variables and an
optional TOML file named by ``SITOO_BR_SETTINGS_FILE``. Tenant configuration lives in the
database, never here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SITOO_BR_"

# Default relay retry schedule, in the spirit of Svix's: immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h; after the last attempt a message is dead.
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite in data_dir"
    )
    log_level: str = "INFO"
    # A core, relay, `migrate` or `rekey` started while the database is unreachable waits this
    # long for it (retrying with backoff, logging why), then exits 78 naming this setting.
    # 0 = one try.
    database_startup_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how long a starting service waits for an unreachable database",
    )

    # gRPC listener of the core. Loopback by default: it serves the edge, internal services
    # and ops, never the internet.
    core_listen: str = "127.0.0.1:50051"
    # Where the edge and the CLI find the core.
    core_target: str = "127.0.0.1:50051"
    core_tls_cert_file: Path | None = None
    core_tls_key_file: Path | None = None
    # When set, the core requires client certificates signed by this CA (mTLS).
    core_tls_client_ca_file: Path | None = None
    # Client side: CA to verify the core, and an optional client certificate for mTLS.
    core_tls_ca_file: Path | None = None
    client_tls_cert_file: Path | None = None
    client_tls_key_file: Path | None = None
    core_tls_server_name: str | None = None

    service_token: SecretStr | None = None
    service_token_file: Path | None = None
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None
    # Named API clients (`sitoo-bloomreach client …`), beside the built-in `edge` (service
    # token) and `admin` (admin token). A rotated token stays valid this long by default, so
    # callers switch without downtime (`client revoke-old` ends it sooner).
    api_client_rotation_grace_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="how long a rotated client token keeps working beside the new one",
    )
    # Each core authenticates from an in-memory copy of the client table, re-read this often;
    # a client changed through another core replica takes effect here within this time.
    api_client_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often a core re-reads the API client table",
    )
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    # Master-key rotation: the keys data may still be sealed with (comma-separated), kept
    # until `sitoo-bloomreach rekey` reports nothing left under them.
    master_key_previous: SecretStr | None = None
    master_key_previous_file: Path | None = None

    # Prometheus scrape endpoint of the core (HTTP); empty to disable.
    core_metrics_listen: str = "127.0.0.1:9464"

    edge_host: str = "127.0.0.1"
    edge_port: int = 8080
    edge_max_body_bytes: int = 1_048_576
    # Edge -> core deadline; Sitoo's POS gives up after 10 s, so stay well inside it.
    edge_core_deadline_seconds: float = Field(default=8.0, gt=0, le=9.5)
    shutdown_grace_seconds: float = 10.0
    # The edge as Sitoo reaches it (e.g. https://sitoo.example.com): the console shows the SPI
    # URLs from it (default: http://{edge_host}:{edge_port}); validation checks that it answers
    # (skipped when unset).
    edge_public_url: str | None = None

    # The setup and operations console (`sitoo-bloomreach console`): ops-facing, loopback by
    # default. Outside loopback it must be served over HTTPS (console_secure_cookies=true).
    console_host: str = "127.0.0.1"
    console_port: int = 8090
    # Marks the session cookie Secure; set when the console is served over HTTPS.
    console_secure_cookies: bool = False
    # Key sealing the session cookie (32+ random bytes, any text); default: a new key per
    # process, which signs everyone out on restart.
    console_session_key: SecretStr | None = None
    console_session_key_file: Path | None = None
    console_session_max_age_seconds: int = Field(default=8 * 3600, gt=0)
    console_core_deadline_seconds: float = 15.0

    # `sitoo-bloomreach run` only: start the sandbox emulators and a ready integration on them
    # (the embedded default, for trying the product without a real Sitoo or Bloomreach).
    run_sandbox: bool = True
    sandbox_bloomreach_port: int = 9300
    sandbox_sitoo_port: int = 9400

    # Webhook group commit: concurrent Events SPI batches share one transaction of at most
    # this many events. `ingest_writers` such transactions may run at once (PostgreSQL only:
    # SQLite has one writer); one is fastest in BENCHMARKS.md, since a busier writer simply
    # carries bigger groups.
    ingest_max_group_events: int = Field(default=500, ge=10)
    ingest_writers: int = Field(default=1, ge=1)

    relay_batch_size: int = 50
    relay_lease_seconds: float = 60.0
    relay_poll_interval_seconds: float = 0.5
    relay_concurrency: int = 8
    relay_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    # Per relay process and Bloomreach project: with N relays, set it to (budget / N).
    # 50/s is half of Bloomreach's documented 100 requests/s per IP.
    bloomreach_requests_per_second: float = 50.0
    # Messages one relay holds at a time (claimed, fetching, sending, committing): bounds
    # memory whatever the backlog.
    relay_max_in_flight: int = 1000
    relay_sitoo_concurrency: int = 32
    relay_http_timeout_seconds: float = 10.0
    # A Sitoo 404 may mean "not visible yet": retried this many times, then dead.
    relay_not_found_retries: int = 5
    # How long the relay trusts its copy of an integration's configuration.
    relay_config_refresh_seconds: float = 30.0
    # Prometheus endpoint of a stand-alone `relay` process; empty to disable.
    relay_metrics_listen: str = "127.0.0.1:9465"
    # Cap on one Bloomreach call of the customer path; the caller's remaining deadline (minus
    # a margin to answer in) lowers it further.
    bloomreach_timeout_seconds: float = 5.0
    purchase_history_limit: int = 20

    # Backfill and reconcile: Sitoo order-list pages (num) and their pace (per job; list
    # calls are heavier than single-order reads, so stay well under Sitoo's limit).
    backfill_page_size: int = 100
    backfill_sitoo_requests_per_second: float = 4.0
    # Back-pressure: a backfill waits while the integration has this many open outbox
    # messages, so it never outruns the relay's paced Bloomreach sending.
    backfill_max_open_messages: int = 2000
    # The relay runs reconcile for every enabled integration this often (0 = never), over
    # the last `reconcile_window_hours` (Sitoo drops undeliverable webhooks after ~24 h),
    # leaving out the last `reconcile_grace_seconds` (webhooks still on their way).
    reconcile_interval_seconds: float = 0.0
    reconcile_window_hours: float = 26.0
    reconcile_grace_seconds: float = 300.0
    # Validation's round trip: how long to wait for a relay to deliver the test order.
    validation_delivery_timeout_seconds: float = 60.0

    # Retention: the relay purges old rows every `retention_interval_seconds` (0 = never;
    # `sitoo-bloomreach retention run` purges on demand). `tracked_orders` is kept forever
    # (it is what makes tracking exactly-once), and so are open (pending, in_flight) and dead
    # outbox messages (work waiting for the relay or an operator's replay).
    #
    # Inbox events (the webhook dedupe) older than this, by `received_at`. Safe: Sitoo stops
    # retrying an event after ~24 h, and an event replayed after its row is gone still cannot
    # double a purchase: its order is enqueued again and the relay skips it as already
    # tracked. The 2-day minimum keeps the dedupe over Sitoo's whole retry period.
    retention_inbox_days: int = Field(default=30, ge=2)
    # Delivered and skipped outbox messages finished longer ago than this, by `finished_at`.
    # Their payloads hold the prepared Bloomreach commands, which name the customer (sealed
    # at rest, still personal data), so they should not be kept for good. Safe: a delivered
    # order stays in `tracked_orders`; the 2-day minimum (and the check against
    # `reconcile_window_hours`) keeps every message reconcile may still ask about, so
    # scheduled reconciles never re-enqueue skipped orders.
    retention_finished_days: int = Field(default=30, ge=2)
    # Quarantined (authenticated but malformed) webhook bodies older than this, by
    # `received_at`. Kept only for an operator to inspect; nothing reads them back.
    retention_quarantine_days: int = Field(default=30, ge=1)
    # How often each relay process purges (the first run comes a minute after start). Several
    # relays may purge at once: on PostgreSQL each takes rows the others have not locked.
    retention_interval_seconds: float = Field(default=3600.0, ge=0)

    # Quarantine bounds, per integration: a webhook credential must not buy unbounded storage
    # (a malformed body may be up to edge_max_body_bytes). Past either cap the oldest bodies
    # are deleted (the newest is always kept) and counted in core_quarantine_dropped_total.
    quarantine_max_bodies: int = Field(default=1000, ge=1)
    quarantine_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # Malformed batches one integration may have quarantined: a token bucket refilling at
    # this rate, holding `quarantine_burst`. Beyond it the webhook answers 429 with
    # Retry-After and stores nothing; Sitoo retries a 429, so a malformed batch is delayed,
    # not lost. Per core process.
    quarantine_batches_per_minute: float = Field(default=30.0, gt=0)
    quarantine_burst: int = Field(default=20, ge=1)

    # Sitoo's Basic credentials (issue 11): the core reads the credential verifiers of all
    # integrations in one query and trusts that copy this long, so a made-up integration name
    # never reaches the database per request and costs what a wrong password costs (no timing
    # oracle for tenant names). Also how long another core replica may still accept a rotated
    # credential or a disabled integration, or refuse a just-created one.
    sitoo_credential_cache_seconds: float = Field(default=5.0, gt=0, le=300)

    # Congestion control of the customer path (issue 11). Per integration, at most
    # `bloomreach_call_slots` Bloomreach calls are in flight (its own connection pool has that
    # many connections) and at most `bloomreach_max_queued` requests wait for a slot. A request
    # waits only if, by the running estimate of that integration's Bloomreach latency, it can
    # still get a slot and finish within the edge's deadline; otherwise it is answered 503 with
    # Retry-After at once instead of starting a call it cannot finish.
    bloomreach_call_slots: int = Field(default=64, ge=1)
    bloomreach_max_queued: int = Field(default=256, ge=0)
    # Per edge process and integration: customer requests in flight to the core. More are
    # answered 503 with Retry-After at once, so one tenant's flood (or slow project) cannot
    # take the edge and core from the others' tills.
    edge_integration_max_in_flight: int = Field(default=256, ge=1)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    @model_validator(mode="after")
    def _retention_covers_reconcile(self) -> Settings:
        if self.retention_finished_days * 24 <= self.reconcile_window_hours:
            raise ValueError(
                f"retention_finished_days ({self.retention_finished_days}) must cover "
                f"reconcile_window_hours ({self.reconcile_window_hours:g} h): reconcile would "
                "re-enqueue the skipped orders whose messages were purged"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get(ENV_PREFIX + "SETTINGS_FILE")
        if settings_file:
            if not Path(settings_file).is_file():
                raise ValueError(f"{ENV_PREFIX}SETTINGS_FILE={settings_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=settings_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sitoo-bloomreach.db').resolve()}"

    @property
    def resolved_edge_public_url(self) -> str:
        if self.edge_public_url:
            return self.edge_public_url.rstrip("/")
        return f"http://{self.edge_host}:{self.edge_port}"

    @property
    def core_tls_enabled(self) -> bool:
        return self.core_tls_cert_file is not None

    @property
    def client_tls_enabled(self) -> bool:
        return self.core_tls_ca_file is not None


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def read_secret(value: SecretStr | None, file: Path | None, name: str) -> str:
    """A secret given directly or in a file (the file wins no ties: giving both is an error)."""
    if value is not None and file is not None:
        raise ConfigurationError(f"set either {ENV_PREFIX}{name} or {ENV_PREFIX}{name}_FILE")
    if value is not None:
        secret = value.get_secret_value().strip()
    elif file is not None:
        try:
            secret = file.read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"{ENV_PREFIX}{name}_FILE={file} cannot be read: {exc.strerror}"
            ) from exc
    else:
        raise ConfigurationError(f"{ENV_PREFIX}{name} or {ENV_PREFIX}{name}_FILE must be set")
    if not secret:
        raise ConfigurationError(f"{ENV_PREFIX}{name} is empty")
    return secret


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
