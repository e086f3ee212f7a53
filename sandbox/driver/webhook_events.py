"""What Sitoo's event queue sends and records: the Events SPI event types, an :class:`Event` and
:func:`order_event`, Sitoo's retry rules and schedule, and the per-attempt log entries."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

EVENT_TYPES: Final = (
    "order",
    "order-delivery",
    "booking",
    "shipment",
    "shipment-v3",
    "warehouse-transaction",
    "z-report",
    "store-z-report",
)
ORDER_EVENT_TYPES: Final = ("add", "update", "ready-for-pickup", "pickup-rejected", "email-receipt")
ORDER_STATES: Final = ("open", "closed", "cancelled")
EVENT_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")

# Documented: no answer within 15 s -> the batch goes back to the queue.
WEBHOOK_TIMEOUT_S: Final = 15.0


class RetryRule(StrEnum):
    """Which of Sitoo's two documented retry rules the sender applies."""

    CURRENT = "current"  # 200 done; 429/503/504 (and no answer) retried; anything else dropped
    EARLIER = "earlier"  # 200 or any 4xx except 429 removes the batch; everything else retried


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRIED = "retried"
    DROPPED = "dropped"


CURRENT_RETRY_STATUSES: Final = frozenset({429, 503, 504})
ALWAYS_DISCARD_STATUSES: Final = frozenset({400, 401})


def classify(status: int | None, rule: RetryRule = RetryRule.CURRENT) -> Outcome:
    """What Sitoo does with a batch after an answer (``None`` = timeout / no answer)."""
    if status is None:
        return Outcome.RETRIED
    if status == HTTPStatus.OK:
        return Outcome.DELIVERED
    if status in ALWAYS_DISCARD_STATUSES:
        return Outcome.DROPPED
    if rule is RetryRule.CURRENT:
        return Outcome.RETRIED if status in CURRENT_RETRY_STATUSES else Outcome.DROPPED
    if (
        HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR
        and status != HTTPStatus.TOO_MANY_REQUESTS
    ):
        return Outcome.DROPPED
    return Outcome.RETRIED


@dataclass(frozen=True)
class RetrySchedule:
    """Delays (spec seconds) before each retry; once they run out the batch is dropped.

    Default (documented window, inferred spacing): 10 retries 6 min apart in the first hour,
    then 23 hourly retries — 34 attempts over 24 h.
    """

    delays_s: tuple[float, ...] = (360.0,) * 10 + (3600.0,) * 23

    @classmethod
    def sitoo(cls) -> RetrySchedule:
        return cls()

    @classmethod
    def of(cls, *delays_s: float) -> RetrySchedule:
        return cls(tuple(delays_s))

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1

    @property
    def window_s(self) -> float:
        return sum(self.delays_s)


def new_event_id(rng: random.Random | None = None) -> str:
    """32 lowercase hex digits, no dashes, as in Sitoo's example."""
    if rng is None:
        return uuid.uuid4().hex
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


@dataclass(frozen=True)
class Event:
    """One Events SPI envelope (spec §2.1); ``data`` is the type-specific payload."""

    event_id: str
    event_type: str
    event_date: int
    account_id: int
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not EVENT_ID_RE.match(self.event_id):
            raise ValueError(f"event_id must be 32 lowercase hex digits: {self.event_id!r}")
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event_type {self.event_type!r}")
        for name in ("event_date", "account_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer")

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_date": self.event_date,
            "account_id": self.account_id,
            "data": dict(self.data),
        }


def order_event(
    *,
    account_id: int,
    eshop_id: int,
    order_id: int,
    event_date: int,
    order_event_type: str = "add",
    warehouse_id: int | None = None,
    order_state_changed: str | None = None,
    event_type: str = "order",
    event_id: str | None = None,
    rng: random.Random | None = None,
) -> Event:
    """An ``order`` (or ``booking``) event with ``OrderData`` (spec §2.2)."""
    if event_type not in ("order", "booking"):
        raise ValueError("OrderData events are 'order' or 'booking'")
    if order_event_type not in ORDER_EVENT_TYPES:
        raise ValueError(f"unknown order_event_type {order_event_type!r}")
    if order_state_changed is not None and order_state_changed not in ORDER_STATES:
        raise ValueError(f"unknown order_state_changed {order_state_changed!r}")
    data: dict[str, Any] = {"eshop_id": eshop_id, "order_id": order_id}
    if warehouse_id is not None:
        data["warehouse_id"] = warehouse_id
    data["order_event_type"] = order_event_type
    if order_state_changed is not None:
        data["order_state_changed"] = order_state_changed
    return Event(
        event_id=event_id or new_event_id(rng),
        event_type=event_type,
        event_date=event_date,
        account_id=account_id,
        data=data,
    )


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of one batch.

    ``status`` is ``None`` when no answer came (``error`` says why: ``"timeout"`` or the
    connection error). ``elapsed_spec_s`` is the batch's time on Sitoo's schedule (sum of the
    uncompressed delays before this attempt); ``next_retry_in_s`` the uncompressed delay before
    the next attempt when ``outcome`` is ``retried``.
    """

    batch_no: int
    attempt: int
    event_ids: tuple[str, ...]
    status: int | None
    outcome: Outcome
    duplicate: bool = False
    error: str | None = None
    reason: str = ""
    elapsed_spec_s: float = 0.0
    next_retry_in_s: float | None = None
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_no": self.batch_no,
            "attempt": self.attempt,
            "event_ids": list(self.event_ids),
            "status": self.status,
            "outcome": self.outcome.value,
            "duplicate": self.duplicate,
            "error": self.error,
            "reason": self.reason,
            "elapsed_spec_s": self.elapsed_spec_s,
            "next_retry_in_s": self.next_retry_in_s,
        }


@dataclass(frozen=True)
class BatchResult:
    batch_no: int
    event_ids: tuple[str, ...]
    outcome: Outcome  # delivered or dropped
    attempts: int
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_no": self.batch_no,
            "event_ids": list(self.event_ids),
            "outcome": self.outcome.value,
            "attempts": self.attempts,
            "duplicate": self.duplicate,
        }
