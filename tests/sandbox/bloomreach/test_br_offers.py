"""Offers as a Bloomreach scenario gives them (issue 14): customer events tracked through the
Tracking API, stored, and exported by ``customers/events`` filtered by event type exactly as
tracked — which is how the middleware reads a customer's promotions and bonus checks."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bloomreach.offers import Offer, OfferNames, OfferNotTracked, OfferTracker
from sandbox.bloomreach.testing import BR
from tests.sandbox.bloomreach.conftest import Starter
from tests.sandbox.bloomreach.test_br_auth import LIMITED, _restricted

IDS = {"registered": "anna@example.com"}
PROMOTION = Offer(
    "promotion",
    "6f1c2b9e-0d7a-4c55-9a0b-1f2e3d4c5b6a",
    "10% off everything",
    valid_until=1_893_455_999,
    type="cart_percent",
    value=10,
)
BONUS_CHECK = Offer(
    "bonus_check",
    "bc-2026-0042",
    "Bonus 50 kr",
    valid_until="2029-12-31T23:59:59",  # ISO 8601 is kept as the string it is
    amount="50.00",
    currency="SEK",
    extra={"campaign": "spring", "tiers": ["gold", "silver"], "note": "Åre \u00e9"},
)
NO_END = Offer("promotion", "p-forever", "Free coffee", type="free_item")


async def export(br: BR, *types: str, **kw: Any) -> list[dict[str, Any]]:
    reply = await br.data(
        "customers/events", {"customer_ids": IDS, "event_types": list(types), **kw}
    )
    assert reply.status == 200, reply.body
    assert reply.body["success"] is True
    data: list[dict[str, Any]] = reply.body["data"]
    return data


async def test_offer_events_are_exported_exactly_as_tracked(br: BR) -> None:
    async with OfferTracker(br.base, br.token) as tracker:
        sent = [
            await tracker.give(IDS, PROMOTION, 1_767_000_000.25),
            await tracker.give(IDS, BONUS_CHECK, 1_767_000_100),
            await tracker.give(IDS, NO_END, 1_767_000_050),
        ]
    await br.event(IDS, "purchase", {"purchase_id": "P1", "total_price": 99.5}, ts=1_767_000_010)

    assert sent[0]["event_type"] == "sitoo_promotion"
    assert sent[0]["properties"] == {
        "id": PROMOTION.offer_id,
        "name": "10% off everything",
        "type": "cart_percent",
        "value": 10,
        "valid_until": 1_893_455_999,
    }
    promotions = await export(br, "sitoo_promotion")
    assert promotions == [
        {
            "type": "sitoo_promotion",
            "timestamp": 1_767_000_000.25,
            "properties": sent[0]["properties"],
        },
        {
            "type": "sitoo_promotion",
            "timestamp": 1_767_000_050.0,
            "properties": sent[2]["properties"],
        },
    ]
    assert "valid_until" not in promotions[1]["properties"]  # no end: not sent at all
    (bonus,) = await export(br, "sitoo_bonus_check")
    assert bonus["properties"] == {
        "id": "bc-2026-0042",
        "name": "Bonus 50 kr",
        "amount": "50.00",
        "currency": "SEK",
        "valid_until": "2029-12-31T23:59:59",
        "campaign": "spring",
        "tiers": ["gold", "silver"],
        "note": "Åre \u00e9",
    }
    # Both kinds in one export, by time; the purchase is not an offer and stays out.
    both = await export(br, "sitoo_promotion", "sitoo_bonus_check", order="desc")
    assert [(e["type"], e["properties"]["id"]) for e in both] == [
        ("sitoo_bonus_check", "bc-2026-0042"),
        ("sitoo_promotion", "p-forever"),
        ("sitoo_promotion", PROMOTION.offer_id),
    ]
    assert [e["type"] for e in await export(br, "purchase")] == ["purchase"]


async def test_configured_names_are_the_ones_tracked(br: BR) -> None:
    names = OfferNames(promotion_event_type="member_offer", id="offer_id", valid_until="expires_at")
    async with OfferTracker(br.base, br.token, names=names) as tracker:
        await tracker.give(IDS, PROMOTION, 1_767_000_000)
    (event,) = await export(br, "member_offer")
    assert event["properties"]["offer_id"] == PROMOTION.offer_id
    assert event["properties"]["expires_at"] == 1_893_455_999
    assert {"id", "valid_until"}.isdisjoint(event["properties"])
    assert await export(br, "sitoo_promotion") == []


async def test_the_same_offer_tracked_twice_is_stored_once(br: BR) -> None:
    # A scenario re-run sends the identical event; Bloomreach keeps exact duplicates once.
    async with OfferTracker(br.base, br.token) as tracker:
        await tracker.give(IDS, PROMOTION, 1_767_000_000)
        await tracker.give(IDS, PROMOTION, 1_767_000_000)
    assert len(await export(br, "sitoo_promotion")) == 1
    assert (await br.stats())["events_duplicate_dropped"] == 1


async def test_a_key_without_the_event_type_cannot_give_or_export_offers(
    start: Starter,
) -> None:
    br = await start(_restricted(events_set=["purchase"], events_get=["purchase"]))
    async with OfferTracker(br.base, br.token, "limited", "pw") as tracker:
        with pytest.raises(OfferNotTracked, match="Not authorized to add event"):
            await tracker.give(IDS, PROMOTION, 1_767_000_000)
    async with OfferTracker(br.base, br.token) as tracker:  # the full key can
        await tracker.give(IDS, PROMOTION, 1_767_000_000)
    reply = await br.data(
        "customers/events",
        {"customer_ids": IDS, "event_types": ["sitoo_promotion"]},
        auth=LIMITED,
    )
    assert reply.status == 403
