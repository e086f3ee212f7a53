"""Purchase history from the customer's Bloomreach ``purchase`` / ``purchase_item`` events
(the order path writes them; spec: bloomreach-engagement-api.md §5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from core_service.domain.customer import Purchase, PurchaseLine, decimal_text

EVENT_TYPES: Final = ("purchase", "purchase_item")
# purchase_item events per purchase we are ready to read; the export has one limit for both.
ITEMS_PER_PURCHASE: Final = 9
MAX_EVENTS: Final = 500


def events_to_fetch(purchases: int) -> int:
    return min(MAX_EVENTS, purchases * (1 + ITEMS_PER_PURCHASE))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def purchases_from_events(events: Iterable[Mapping[str, Any]], limit: int) -> list[Purchase]:
    """Newest first (the export is ordered ``desc``); a refund stays its own entry."""
    events = list(events)
    items: dict[tuple[str, str], list[PurchaseLine]] = {}
    for event in events:
        props = event.get("properties")
        if event.get("type") != "purchase_item" or not isinstance(props, Mapping):
            continue
        key = (_text(props.get("purchase_id")), _text(props.get("purchase_status")))
        items.setdefault(key, []).append(
            PurchaseLine(
                sku=_text(props.get("sku") or props.get("product_id")),
                name=_text(props.get("title")),
                quantity=decimal_text(props.get("quantity")),
                total_price=decimal_text(props.get("total_price")),
            )
        )
    purchases: list[Purchase] = []
    for event in events:
        props = event.get("properties")
        if event.get("type") != "purchase" or not isinstance(props, Mapping):
            continue
        purchase_id = _text(props.get("purchase_id"))
        status = _text(props.get("purchase_status")) or "success"
        lines = items.get((purchase_id, status))
        if lines is None:
            products = props.get("product_list")
            lines = [
                PurchaseLine(
                    sku=_text(p.get("sku") or p.get("product_id")),
                    name=_text(p.get("title")),
                    quantity=decimal_text(p.get("quantity")),
                    total_price=decimal_text(p.get("total_price")),
                )
                for p in (products if isinstance(products, list) else [])
                if isinstance(p, Mapping)
            ]
        timestamp = event.get("timestamp")
        purchases.append(
            Purchase(
                purchase_id=purchase_id,
                purchase_status=status,
                timestamp=int(timestamp) if isinstance(timestamp, int | float) else 0,
                total_price=decimal_text(props.get("total_price")),
                total_price_without_tax=decimal_text(props.get("total_price_without_tax")),
                currency=_text(props.get("local_currency")),
                store_id=_text(props.get("store_id")),
                store_name=_text(props.get("purchase_source_name")),
                original_purchase_id=_text(props.get("original_purchase_id")),
                items=tuple(lines),
            )
        )
        if len(purchases) >= limit:
            break
    return purchases
