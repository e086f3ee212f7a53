"""A backfill or reconcile job's state, as the backfill port hands it to the service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobState:
    id: int
    job_key: str
    resumed: bool
    cursor_order_id: int
    scanned: int
    enqueued: int
    already_known: int


def job_key(kind: str, date_from: int, date_to: int) -> str:
    return f"{kind}:{date_from}:{date_to}"
