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
    """Every field's ``description`` is its user documentation: the README's settings table is
    generated from it (``make settings-doc``); comments here keep only the reasons why."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    data_dir: Path = Field(
        default=Path("var"),
        description="where `run` keeps the SQLite database and the keys it makes",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL (`postgresql+asyncpg://…` in production); "
        "unset: SQLite in `SITOO_BR_DATA_DIR`",
    )
    log_level: str = Field(
        default="INFO",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL; JSON logs on stderr, "
        "e-mails and phone numbers masked",
    )
    database_startup_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="a core, relay, `migrate` or `rekey` started while the database is "
        "unreachable retries (with backoff, logging why) this long, then exits 78 naming this "
        "setting; `0` = one try",
    )

    # Loopback by default: the core serves the edge, internal services and ops, never the
    # internet.
    core_listen: str = Field(
        default="127.0.0.1:50051",
        description="the core's gRPC listener (loopback unless TLS is set)",
    )
    core_target: str = Field(
        default="127.0.0.1:50051", description="where the edge and the CLI find the core"
    )
    core_tls_cert_file: Path | None = Field(
        default=None, description="the core's TLS certificate (PEM); set: the core serves TLS"
    )
    core_tls_key_file: Path | None = Field(
        default=None, description="the key of `SITOO_BR_CORE_TLS_CERT_FILE`"
    )
    core_tls_client_ca_file: Path | None = Field(
        default=None,
        description="set: the core requires client certificates signed by this CA (mTLS)",
    )
    core_tls_ca_file: Path | None = Field(
        default=None, description="client side: the CA that verifies the core's certificate"
    )
    client_tls_cert_file: Path | None = Field(
        default=None, description="client side: a client certificate for mTLS"
    )
    client_tls_key_file: Path | None = Field(
        default=None, description="the key of `SITOO_BR_CLIENT_TLS_CERT_FILE`"
    )
    core_tls_server_name: str | None = Field(
        default=None,
        description="client side: the name expected in the core's certificate, when it is "
        "not the host of `SITOO_BR_CORE_TARGET`",
    )

    service_token: SecretStr | None = Field(
        default=None,
        description="what the edge presents to the core (API client `edge`); `run` makes one",
    )
    service_token_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_SERVICE_TOKEN`"
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="what the CLI and the console present to the core's AdminService "
        "(API client `admin`); `run` makes one",
    )
    admin_token_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_ADMIN_TOKEN`"
    )
    # Named API clients (`sitoo-bloomreach client …`) sit beside the built-in `edge` and
    # `admin`; the grace lets callers switch to a rotated token without downtime.
    api_client_rotation_grace_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="after `client rotate`, how long the previous token of an API client "
        "keeps working (`client revoke-old` ends it sooner)",
    )
    # Each core authenticates from an in-memory copy of the client table.
    api_client_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often a core re-reads the API client table (a client changed "
        "through another core replica takes effect within this)",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="32 random bytes, base64; seals stored secrets (`run` makes `var/master.key`)",
    )
    master_key_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_MASTER_KEY`"
    )
    # Kept until `sitoo-bloomreach rekey` reports nothing left sealed under them.
    master_key_previous: SecretStr | None = Field(
        default=None,
        description="during a key rotation: the old key(s), comma-separated, until `rekey` "
        "is done (docs/operations.md)",
    )
    master_key_previous_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_MASTER_KEY_PREVIOUS`"
    )

    core_metrics_listen: str = Field(
        default="127.0.0.1:9464",
        description="the core's Prometheus scrape endpoint (HTTP); empty to disable",
    )

    edge_host: str = Field(default="127.0.0.1", description="the edge's HTTP listener address")
    edge_port: int = Field(default=8080, description="the edge's HTTP listener port")
    edge_max_body_bytes: int = Field(
        default=1_048_576, description="largest request body the edge accepts (413 beyond it)"
    )
    # Sitoo's POS gives up after 10 s, so stay well inside it.
    edge_core_deadline_seconds: float = Field(
        default=8.0,
        gt=0,
        le=9.5,
        description="the edge's deadline for the core; Sitoo's POS gives up at 10 s",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        description="on SIGTERM, how long a process lets requests and work in flight finish",
    )
    edge_public_url: str | None = Field(
        default=None,
        description="the edge as Sitoo reaches it (e.g. `https://sitoo.example.com`): the "
        "console shows the SPI URLs from it and validation checks that it answers (skipped "
        "when unset); unset: `http://EDGE_HOST:EDGE_PORT`",
    )

    # The console is ops-facing, hence loopback by default.
    console_host: str = Field(
        default="127.0.0.1",
        description="the console's listener address; off loopback it requires HTTPS "
        "(`SITOO_BR_CONSOLE_SECURE_COOKIES=true`)",
    )
    console_port: int = Field(default=8090, description="the console's listener port")
    console_secure_cookies: bool = Field(
        default=False,
        description="marks the session cookie Secure; set when the console is served over HTTPS",
    )
    # The default (a new key per process) signs everyone out on restart.
    console_session_key: SecretStr | None = Field(
        default=None,
        description="seals the console's session cookies (32+ characters); unset: a new key "
        "per process",
    )
    console_session_key_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_CONSOLE_SESSION_KEY`"
    )
    console_session_max_age_seconds: int = Field(
        default=8 * 3600, gt=0, description="console sign-in lifetime"
    )
    console_core_deadline_seconds: float = Field(
        default=15.0, description="the console's deadline for a call to the core"
    )

    # The embedded default, for trying the product without a real Sitoo or Bloomreach.
    run_sandbox: bool = Field(
        default=True,
        description="`run` only: start the sandbox emulators and a ready integration on them",
    )
    sandbox_bloomreach_port: int = Field(
        default=9300, description="`run` only: the Bloomreach emulator's port"
    )
    sandbox_sitoo_port: int = Field(
        default=9400, description="`run` only: the Sitoo emulator's port"
    )

    # Webhook group commit. One writer is fastest in BENCHMARKS.md, since a busier writer
    # simply carries bigger groups; SQLite has one writer anyway.
    ingest_max_group_events: int = Field(
        default=500,
        ge=10,
        description="concurrent Events SPI batches share one transaction of at most this "
        "many events",
    )
    ingest_writers: int = Field(
        default=1,
        ge=1,
        description="such transactions that may run at once (PostgreSQL only)",
    )

    relay_batch_size: int = Field(
        default=50, description="outbox messages a relay claims at a time"
    )
    relay_lease_seconds: float = Field(
        default=60.0,
        description="how long a claimed message is the relay's before another may take it",
    )
    relay_poll_interval_seconds: float = Field(
        default=0.5, description="how often an idle relay looks for work"
    )
    relay_concurrency: int = Field(default=8, description="Bloomreach sends a relay runs at once")
    relay_retry_schedule: tuple[float, ...] = Field(
        default=DEFAULT_RETRY_SCHEDULE,
        description="seconds before each delivery attempt; after the last a message is dead",
    )
    # 50/s is half of Bloomreach's documented 100 requests/s per IP.
    bloomreach_requests_per_second: float = Field(
        default=50.0,
        description="per relay process and Bloomreach project; with N relays, set it to budget / N",
    )
    # Bounds memory whatever the backlog.
    relay_max_in_flight: int = Field(
        default=1000,
        description="messages one relay holds at a time (claimed, fetching, sending, committing)",
    )
    relay_sitoo_concurrency: int = Field(
        default=32, description="Sitoo order reads a relay runs at once"
    )
    relay_http_timeout_seconds: float = Field(
        default=10.0, description="the relay's timeout for one Sitoo or Bloomreach call"
    )
    # A Sitoo 404 may mean "not visible yet".
    relay_not_found_retries: int = Field(
        default=5,
        description="how often an order Sitoo answers 404 for is retried before it is dead",
    )
    relay_config_refresh_seconds: float = Field(
        default=30.0,
        description="how long the relay trusts its copy of an integration's configuration "
        "(`kill -HUP` re-reads at once)",
    )
    relay_metrics_listen: str = Field(
        default="127.0.0.1:9465",
        description="Prometheus endpoint of a stand-alone `relay` process; empty to disable",
    )
    bloomreach_timeout_seconds: float = Field(
        default=5.0,
        description="cap on one Bloomreach call of the customer path; the caller's remaining "
        "deadline (minus a margin to answer in) lowers it further",
    )
    purchase_history_limit: int = Field(
        default=20, description="purchases the customer card's history shows"
    )

    # List calls are heavier than single-order reads, so stay well under Sitoo's limit.
    backfill_page_size: int = Field(
        default=100, description="backfill and reconcile: orders per Sitoo list page"
    )
    backfill_sitoo_requests_per_second: float = Field(
        default=4.0, description="backfill and reconcile: Sitoo list calls per second, per job"
    )
    # Back-pressure, so a backfill never outruns the relay's paced Bloomreach sending.
    backfill_max_open_messages: int = Field(
        default=2000,
        description="a backfill waits while its integration has this many open outbox messages",
    )
    reconcile_interval_seconds: float = Field(
        default=0.0,
        description="the relay reconciles every enabled integration this often; `0` = never",
    )
    # Sitoo drops undeliverable webhooks after ~24 h.
    reconcile_window_hours: float = Field(
        default=26.0, description="scheduled reconcile looks back this far"
    )
    reconcile_grace_seconds: float = Field(
        default=300.0,
        description="scheduled reconcile leaves out this last stretch (webhooks still on "
        "their way)",
    )
    validation_delivery_timeout_seconds: float = Field(
        default=60.0,
        description="validation's round trip: how long to wait for a relay to deliver the "
        "test order",
    )

    # Retention. `tracked_orders` is kept forever (it is what makes tracking exactly-once), and
    # so are open (pending, in_flight) and dead outbox messages (work waiting for the relay or
    # an operator's replay).
    #
    # Inbox: safe because Sitoo stops retrying an event after ~24 h, and an event replayed
    # after its row is gone still cannot double a purchase: its order is enqueued again and
    # the relay skips it as already tracked. The 2-day minimum keeps the dedupe over Sitoo's
    # whole retry period.
    retention_inbox_days: int = Field(
        default=30,
        ge=2,
        description="webhook event ids kept for dedupe, by `received_at` (Sitoo retries for ~24 h)",
    )
    # Finished messages' payloads hold the prepared Bloomreach commands, which name the
    # customer (sealed at rest, still personal data), so they should not be kept for good.
    # Safe: a delivered order stays in `tracked_orders`; the 2-day minimum (and the check
    # against `reconcile_window_hours`) keeps every message reconcile may still ask about, so
    # scheduled reconciles never re-enqueue skipped orders.
    retention_finished_days: int = Field(
        default=30,
        ge=2,
        description="delivered and skipped outbox messages (their payloads hold e-mails) are "
        "deleted this long after they finished; must cover `SITOO_BR_RECONCILE_WINDOW_HOURS`",
    )
    # Nothing reads quarantined bodies back.
    retention_quarantine_days: int = Field(
        default=30,
        ge=1,
        description="malformed webhook bodies kept for inspection, by `received_at`",
    )
    # Several relays may purge at once: on PostgreSQL each takes rows the others have not
    # locked.
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="how often each relay purges (the first run a minute after start; `0` = "
        "never, `retention run` purges on demand); `tracked_orders`, open and dead messages "
        "are kept forever",
    )

    # A webhook credential must not buy unbounded storage (a malformed body may be up to
    # edge_max_body_bytes).
    quarantine_max_bodies: int = Field(
        default=1000,
        ge=1,
        description="malformed webhook bodies kept per integration; the oldest beyond it are "
        "deleted (counted in `core_quarantine_dropped_total`)",
    )
    quarantine_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="bytes of malformed bodies kept per integration (64 MiB), the same way "
        "(the newest body is always kept)",
    )
    # Sitoo retries a 429, so a malformed batch beyond the bucket is delayed, not lost.
    quarantine_batches_per_minute: float = Field(
        default=30.0,
        gt=0,
        description="malformed batches one integration may have quarantined (token bucket, "
        "per core process); beyond it `429` + `Retry-After`, nothing stored",
    )
    quarantine_burst: int = Field(default=20, ge=1, description="the size of that token bucket")

    # Issue 11: reading all integrations' verifiers in one query means a made-up integration
    # name never reaches the database per request and costs what a wrong password costs (no
    # timing oracle for tenant names).
    sitoo_credential_cache_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="how long the core trusts its copy of all integrations' Sitoo credential "
        "verifiers; also how long another core replica may still accept a rotated credential "
        "or a disabled integration, or refuse a just-created one",
    )

    # Congestion control of the customer path (issue 11): a request waits for a slot only if,
    # by the running estimate of that integration's Bloomreach latency, it can still finish
    # within the edge's deadline; otherwise it is answered at once instead of starting a call
    # it cannot finish.
    bloomreach_call_slots: int = Field(
        default=64,
        ge=1,
        description="customer-path Bloomreach calls in flight per integration (and its own "
        "connection pool's size); see *Slow Bloomreach and overload* in docs/operations.md",
    )
    bloomreach_max_queued: int = Field(
        default=256,
        ge=0,
        description="requests per integration waiting for a slot; a request waits only if it "
        "can still finish within the deadline, else 503 + `Retry-After` at once",
    )
    # So one tenant's flood (or slow project) cannot take the edge and core from the others'
    # tills.
    edge_integration_max_in_flight: int = Field(
        default=256,
        ge=1,
        description="per edge and integration: customer requests in flight to the core; more "
        "get 503 + `Retry-After` at once",
    )

    # outage-breaker (issue 15 §3): a circuit breaker per Bloomreach project.
    bloomreach_circuit_failures: int = Field(
        default=5,
        ge=0,
        description="consecutive failed Bloomreach calls of one project (timeout, connection "
        "error, 5xx, 429; customer path and relay) that open its circuit: customer calls then "
        "fall back at once; 0 turns the breaker off",
    )
    bloomreach_circuit_cool_down_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="how long an open circuit refuses calls before one probe call may go out; "
        "doubled after each failed probe, up to the maximum",
    )
    bloomreach_circuit_max_cool_down_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="the longest cool-down of an open circuit, however many probes failed",
    )

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
