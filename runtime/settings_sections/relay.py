"""The relay: claiming outbox messages, reading orders from Sitoo, paced Bloomreach sends."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section

# Default relay retry schedule, in the spirit of Svix's: immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h; after the last attempt a message is dead.
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class RelaySettings(Section):
    SECTION_TITLE: ClassVar[str] = "Relay (outbox → Bloomreach)"

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
