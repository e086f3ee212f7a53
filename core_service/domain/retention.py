"""What the retention purge deletes: these tables' old rows (their names are also the metric
label and the keep-days settings' keys). The rules of "old" are the repository's."""

from __future__ import annotations

PURGED_TABLES = ("inbox_events", "outbox_messages", "quarantine", "card_cache")
# Cached customer cards go when they expire (their integration's TTL, set when stored), so
# their "keep days" is 0: the purge's cut-off is now, compared with each card's expiry.
CARD_CACHE_KEEP_DAYS = 0
