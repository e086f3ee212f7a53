"""Backfill and reconcile (reading Sitoo's order lists) and validation's round trip."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class BackfillSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Backfill, reconcile and validation"

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
