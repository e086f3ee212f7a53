"""One SPI call as the POS saw it (:class:`SpiResult`) and the contract checks that turn an
answer into *problems*."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from sandbox.driver.sitoo_contract import (
    error_code_for,
)

# The "should never exceed" budget of an SPI answer (spec §14).
SLOW_THRESHOLD_S = 1.0


class SpiConnectionError(Exception):
    """No HTTP answer at all: the edge could not be reached or closed the connection."""


@dataclass(frozen=True)
class SpiResult:
    """One SPI call as the POS saw it.

    ``status`` is ``0`` when the POS timed out (``timed_out`` is then true). ``body`` is the
    parsed JSON (``None`` for an empty or non-JSON body, see ``text``). ``problems`` lists
    contract deviations, e.g. ``"status-not-documented: 418"`` or
    ``"error-body-invalid: missing request_id"``; an empty tuple means the answer conforms.
    """

    operation: str
    method: str
    url: str
    status: int
    body: Any
    text: str
    latency_s: float
    timed_out: bool = False
    problems: tuple[str, ...] = ()
    request_headers: Mapping[str, str] = field(default_factory=dict)
    # The answer's headers (e.g. X-Sitoo-Bloomreach-Cache on a card from the cache).
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK and not self.timed_out

    @property
    def conforms(self) -> bool:
        return not self.problems

    @property
    def slow(self) -> bool:
        return self.latency_s > SLOW_THRESHOLD_S

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "timed_out": self.timed_out,
            "latency_ms": round(self.latency_s * 1000, 3),
            "problems": list(self.problems),
            "body": self.body if self.body is not None or not self.text else self.text,
        }


def error_body_problems(status: int, body: Any) -> list[str]:
    """How ``body`` departs from the Sitoo error object (spec §4; CRM v2 use is inferred)."""
    if not isinstance(body, dict):
        return ["error-body-invalid: not a JSON object"]
    problems: list[str] = []
    for key in ("request_id", "error_code"):
        if not isinstance(body.get(key), str) or not body.get(key):
            problems.append(f"error-body-invalid: missing or non-string {key}")
    data = body.get("error_data")
    if not isinstance(data, dict):
        problems.append("error-body-invalid: missing error_data object")
    elif not isinstance(data.get("message"), str):
        problems.append("error-body-invalid: missing or non-string error_data.message")
    code = body.get("error_code")
    if isinstance(code, str) and code and code != error_code_for(status):
        problems.append(
            f"error-body-invalid: error_code {code!r} for status {status}, "
            f"expected {error_code_for(status)!r}"
        )
    return problems


# Per operation: what a 200 body must look like. "customer" = object with customer_id,
# "list01" = array of 0 or 1 objects, "list" = array.
BodyShape = Literal["customer", "list01", "list", "any"]


def success_body_problems(shape: BodyShape, body: Any, *, require_customer_id: bool) -> list[str]:
    if shape == "any":
        return []
    if shape == "customer":
        if not isinstance(body, dict):
            return ["body-invalid: expected a customer object"]
        if require_customer_id and not isinstance(body.get("customer_id"), str):
            return ["body-invalid: customer without a string customer_id"]
        return []
    if not isinstance(body, list):
        return ["body-invalid: expected a JSON array"]
    if not all(isinstance(item, dict) for item in body):
        return ["body-invalid: array items must be objects"]
    if shape == "list01":
        if len(body) > 1:
            return [f"body-invalid: expected 0 or 1 hits, got {len(body)}"]
        if require_customer_id and body and not isinstance(body[0].get("customer_id"), str):
            return ["body-invalid: customer without a string customer_id"]
    return []
