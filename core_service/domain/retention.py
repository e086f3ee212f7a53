"""What the retention purge deletes: these tables' old rows (their names are also the metric
label and the keep-days settings' keys). The rules of "old" are the repository's."""

from __future__ import annotations

PURGED_TABLES = ("inbox_events", "outbox_messages", "quarantine")
