"""The Events SPI body, validated field by field (spec sitoo-events-and-orders.md §2).

The edge checks shape only; what the events mean is the core's business. Unknown event types
and order event types are accepted (Sitoo may add some; a 400 would make it drop the whole
batch, order events included) and the core records and ignores them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from edge.input_guard import InputRejected, parse_json, proto_text
from edge.spi_contract import MAX_EVENTS_PER_BATCH
from sitoo_bloomreach.v1 import order_events_pb2 as pb

# Documented as 32 hex digits without dashes; a dashed UUID or other short token is tolerated.
EVENT_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ORDER_DATA_TYPES: Final = frozenset({"order", "booking"})
ORDER_STATES: Final = frozenset({"open", "closed", "cancelled"})


class EventsBodyError(ValueError):
    """The body is not a valid Events SPI batch; the message says where."""


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise EventsBodyError(f"{where} must be an integer >= {minimum}")
    if value >= 2**63:
        raise EventsBodyError(f"{where} is too large")
    return value


def _str(value: Any, where: str, *, max_length: int = 40) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise EventsBodyError(f"{where} must be a string of 1-{max_length} characters")
    try:
        return proto_text(value, where)
    except InputRejected as exc:
        raise EventsBodyError(str(exc)) from exc


def _order_data(data: dict[str, Any], where: str) -> pb.OrderEventData:
    order = pb.OrderEventData(
        eshop_id=_int(data.get("eshop_id"), f"{where}.eshop_id", minimum=1),
        order_id=_int(data.get("order_id"), f"{where}.order_id", minimum=1),
        order_event_type=_str(data.get("order_event_type"), f"{where}.order_event_type"),
    )
    if data.get("warehouse_id") is not None:
        order.warehouse_id = _int(data["warehouse_id"], f"{where}.warehouse_id")
    state = data.get("order_state_changed")
    if state is not None:
        if state not in ORDER_STATES:
            raise EventsBodyError(
                f"{where}.order_state_changed must be one of {sorted(ORDER_STATES)}"
            )
        order.order_state_changed = state
    return order


def _event(item: Any, index: int) -> pb.SitooEvent:
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise EventsBodyError(f"{where} must be an object")
    event_id = item.get("event_id")
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise EventsBodyError(f"{where}.event_id must be 1-64 letters, digits, '-' or '_'")
    event_type = _str(item.get("event_type"), f"{where}.event_type")
    data = item.get("data")
    if not isinstance(data, dict):
        raise EventsBodyError(f"{where}.data must be an object")
    event = pb.SitooEvent(
        event_id=event_id,
        event_type=event_type,
        event_date=_int(item.get("event_date"), f"{where}.event_date"),
        account_id=_int(item.get("account_id"), f"{where}.account_id", minimum=1),
    )
    if event_type in ORDER_DATA_TYPES:
        event.order.CopyFrom(_order_data(data, f"{where}.data"))
    else:
        event.data_json = json.dumps(data, sort_keys=True, separators=(",", ":"))[:65536]
    return event


def parse_events(raw: bytes) -> list[pb.SitooEvent]:
    try:
        body = parse_json(raw)
    except InputRejected as exc:
        raise EventsBodyError(str(exc)) from exc
    if not isinstance(body, list):
        raise EventsBodyError("the body must be a JSON array of events")
    if not 1 <= len(body) <= MAX_EVENTS_PER_BATCH:
        raise EventsBodyError(f"a batch holds 1 to {MAX_EVENTS_PER_BATCH} events, not {len(body)}")
    return [_event(item, i) for i, item in enumerate(body)]
