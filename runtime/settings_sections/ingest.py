"""The Events SPI's way into the inbox: group commits and the quarantine of malformed bodies."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class IngestSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Webhook ingest and quarantine"

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
