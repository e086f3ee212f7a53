"""Segmentations (seeded per customer) and aggregates (computed from stored events).

Both are defined through the sandbox admin endpoints; the attributes endpoint reads them.
An aggregate definition is ``{"event_type": str, "function": str, "property": str | None}``.
"""

from __future__ import annotations

from typing import Any

from sandbox.bloomreach.consent import is_number
from sandbox.bloomreach.store import Customer

FUNCTIONS = ("count", "sum", "min", "max", "avg", "first", "last")


def validate_aggregate(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("aggregate definition must be an object")
    event_type = data.get("event_type")
    function = data.get("function", "count")
    prop = data.get("property")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("event_type is required")
    if function not in FUNCTIONS:
        raise ValueError(f"function must be one of {', '.join(FUNCTIONS)}")
    if function != "count" and not isinstance(prop, str):
        raise ValueError("property is required for this function")
    return {"event_type": event_type, "function": function, "property": prop}


def aggregate_value(definition: dict[str, Any], customer: Customer | None) -> Any:
    """The aggregate over the customer's events of the type; no events -> count 0 else null."""
    function = definition["function"]
    if customer is None:
        return 0 if function == "count" else None
    events = [e for e in customer.sorted_events() if e.type == definition["event_type"]]
    if function == "count":
        return len(events)
    prop = definition["property"]
    values = [e.properties.get(prop) for e in events if prop in e.properties]
    if function == "first":
        return values[0] if values else None
    if function == "last":
        return values[-1] if values else None
    numbers = [float(v) for v in values if is_number(v)]
    if not numbers:
        return None
    if function == "sum":
        return sum(numbers)
    if function == "min":
        return min(numbers)
    if function == "max":
        return max(numbers)
    return sum(numbers) / len(numbers)
