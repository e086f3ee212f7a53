"""How long the inbox, finished outbox messages and quarantined bodies are kept.

``tracked_orders`` is kept forever (it is what makes tracking exactly-once), and so are open
(pending, in_flight) and dead outbox messages (work waiting for the relay or an operator's
replay). That the finished messages outlive the reconcile window spans two sections, so
``Settings`` checks it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class RetentionSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Retention"

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
