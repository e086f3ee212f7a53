"""What every validation check shares: results, the test customer, ids and timeouts."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core_service.domain.bloomreach_api import BloomreachError
from core_service.domain.validation import Check

CALL_TIMEOUT_S = 10.0
PURCHASE_EVENTS = ("purchase", "purchase_item")
WRITE_EVENTS = ("purchase", "purchase_item", "consent")
VALIDATION_STORE = "sitoo-bloomreach-validation"


def ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def fail(name: str, detail: str, remedy: str) -> Check:
    return Check(name, False, detail, remedy)


def skip(name: str, why: str) -> Check:
    return Check(name, False, f"skipped: {why}", "", skipped=True)


@dataclass
class TestCustomer:
    source_value: str  # the value of the hard ID's Sitoo field (e-mail, member number...)
    customer_id: str = ""
    created: bool = False
    customer_ids: dict[str, str] = field(default_factory=dict)


def nonce() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def test_value(source_field: str, nonce: str) -> str:
    if source_field == "email":
        return f"sitoo-bloomreach-validation-{nonce}@example.com"
    if source_field == "mobile":
        # Sweden reserves 070-1740605..699 for fiction: never a real subscriber.
        return f"+4670174{secrets.randbelow(95) + 605:03d}"
    return f"sitoo-bloomreach-validation-{nonce}"


def skipped_check(name: str, why: str) -> Callable[[], Awaitable[Check]]:
    async def check() -> Check:
        return skip(name, why)

    return check


def request_id_note(exc: BloomreachError) -> str:
    return f" (Bloomreach x-request-id {exc.request_id})" if exc.request_id else ""
