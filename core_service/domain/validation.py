"""What a validation run finds: one check per line of the guide's step 7, pass/fail/skip
with the remedy in plain words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    remedy: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class Report:
    ran_at: float
    passed: bool  # every check passed or was skipped
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class MessageFate:
    """What became of validation's test order message in the outbox."""

    state: str
    attempts: int
    last_error: str
