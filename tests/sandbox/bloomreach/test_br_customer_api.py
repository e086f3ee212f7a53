"""Customer API: attributes, export-one, events export, anonymize, segmentations, aggregates."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bloomreach.testing import BR
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}
NOT_FOUND = {"success": False, "errors": {"_global": ["Customer does not exist"]}}


async def _seed_anna(br: BR) -> None:
    await br.update({**IDS, "phone_id": "+46701"}, {"first_name": "Anna", "email": "a@x"}, ts=10)
    await br.update({**IDS, "phone_id": "+46702"}, {"last_name": "Berg"}, ts=11)
    for i, ts in enumerate((100, 300, 200, 400)):
        await br.event(IDS, "purchase", {"purchase_id": f"P{i}", "total_price": 10 * (i + 1)}, ts)
    await br.event(IDS, "purchase_item", {"purchase_id": "P0", "sku": "s"}, ts=100)


async def test_attributes_in_request_order(br: BR) -> None:
    await _seed_anna(br)
    reply = await br.attributes(
        IDS,
        {"type": "property", "property": "first_name"},
        {"type": "property", "property": "missing"},
        {"type": "id", "id": "registered"},
        {"type": "id", "id": "phone_id"},
        {"type": "id", "id": "cookie"},
        {"type": "consent", "category": "newsletter", "mode": "valid"},
        {"type": "consent", "category": "newsletter", "mode": "until"},
        {"type": "expression", "id": "e1"},
        {"type": "bogus"},
        {"type": "id", "id": "not_an_id"},
        {"type": "consent", "category": "newsletter", "mode": "sometimes"},
    )
    assert reply.status == 200
    assert reply.body["success"] is True
    assert reply.body["results"] == [
        {"success": True, "value": "Anna"},
        {"success": True, "value": None},
        {"success": True, "value": "anna@example.com"},
        {"success": True, "value": ["+46701", "+46702"]},
        {"success": True, "value": None},
        {"success": True, "value": False},
        {"success": True, "value": None},
        {"success": False, "error": "Attribute type not supported by the emulator"},
        {"success": False, "error": "Invalid attribute"},
        {"success": False, "error": "Invalid attribute"},
        {"success": False, "error": "Invalid attribute"},
    ]


async def test_attributes_lookup_by_soft_id(br: BR) -> None:
    await _seed_anna(br)
    reply = await br.attributes({"phone_id": "+46702"}, {"type": "id", "id": "registered"})
    assert reply.body["results"] == [{"success": True, "value": "anna@example.com"}]


async def test_attributes_unknown_customer_is_200_null_by_default(br: BR) -> None:
    reply = await br.attributes(
        {"registered": "ghost"},
        {"type": "property", "property": "first_name"},
        {"type": "id", "id": "phone_id"},
        {"type": "consent", "category": "newsletter"},
        {"type": "consent", "category": "newsletter", "mode": "timestamp"},
    )
    assert reply.status == 200
    assert reply.body["results"] == [
        {"success": True, "value": None},
        {"success": True, "value": None},
        {"success": True, "value": False},
        {"success": True, "value": None},
    ]
    assert await br.customers() == []  # lookups never create customers


async def test_attributes_unknown_customer_switchable_to_404(start: Starter) -> None:
    br = await start(attributes_unknown_customer_404=True)
    reply = await br.attributes({"registered": "ghost"}, {"type": "id", "id": "registered"})
    assert reply.status == 404
    assert reply.body == NOT_FOUND


async def test_attributes_request_validation(br: BR) -> None:
    reply = await br.data("customers/attributes", {"customer_ids": IDS, "attributes": []})
    assert reply.status == 400
    assert reply.body["success"] is False
    reply = await br.data("customers/attributes", {"customer_ids": {}, "attributes": [{}]})
    assert reply.status == 400
    assert reply.body["errors"] == ["At least one id should be specified."]


async def test_export_one_returns_ids_properties_and_all_events(br: BR) -> None:
    await _seed_anna(br)
    reply = await br.data("customers/export-one", {"customer_ids": {"phone_id": "+46701"}})
    assert reply.status == 200
    body = reply.body
    assert body["success"] is True
    assert body["ids"] == {"registered": "anna@example.com", "phone_id": ["+46701", "+46702"]}
    assert body["properties"] == {"first_name": "Anna", "email": "a@x", "last_name": "Berg"}
    assert [(e["type"], e["timestamp"]) for e in body["events"]] == [
        ("purchase", 100.0),
        ("purchase_item", 100.0),
        ("purchase", 200.0),
        ("purchase", 300.0),
        ("purchase", 400.0),
    ]


async def test_export_one_unknown_customer_is_404(br: BR) -> None:
    reply = await br.data("customers/export-one", {"customer_ids": {"registered": "ghost"}})
    assert reply.status == 404
    assert reply.body == NOT_FOUND


async def test_events_export_filters_orders_and_pages(br: BR) -> None:
    await _seed_anna(br)

    async def export(**kw: Any) -> list[str]:
        reply = await br.data(
            "customers/events", {"customer_ids": IDS, "event_types": ["purchase"], **kw}
        )
        assert reply.status == 200, reply.body
        assert reply.body["success"] is True
        return [e["properties"]["purchase_id"] for e in reply.body["data"]]

    assert await export() == ["P0", "P2", "P1", "P3"]
    assert await export(order="desc") == ["P3", "P1", "P2", "P0"]
    assert await export(order="desc", limit=2) == ["P3", "P1"]
    assert await export(order="desc", limit=2, skip=2) == ["P2", "P0"]
    assert await export(skip=3) == ["P3"]
    assert await export(skip=10) == []
    reply = await br.data(
        "customers/events",
        {"customer_ids": IDS, "event_types": ["purchase", "purchase_item"], "limit": 2},
    )
    assert [e["type"] for e in reply.body["data"]] == ["purchase", "purchase_item"]


@pytest.mark.parametrize(
    "extra",
    [
        {"event_types": []},
        {"event_types": "purchase"},
        {"order": "up"},
        {"limit": -1},
        {"skip": "1"},
    ],
)
async def test_events_export_validation(br: BR, extra: dict[str, Any]) -> None:
    body = {"customer_ids": IDS, "event_types": ["purchase"], **extra}
    reply = await br.data("customers/events", body)
    assert reply.status == 400
    assert reply.body["success"] is False


async def test_events_export_unknown_customer_is_404(br: BR) -> None:
    body = {"customer_ids": {"registered": "ghost"}, "event_types": ["purchase"]}
    reply = await br.data("customers/events", body)
    assert reply.status == 404
    assert reply.body == NOT_FOUND


async def test_anonymize_removes_ids_and_pii_and_assigns_new_cookie(br: BR) -> None:
    await _seed_anna(br)
    await br.update(IDS, {"loyalty_tier": "gold"}, ts=12)
    reply = await br.data("customers/anonymize", {"customer_ids": IDS})
    assert reply.status == 200
    assert reply.body == {"success": True}
    [customer] = await br.customers()
    assert set(customer["ids"]) == {"cookie"}
    assert len(customer["ids"]["cookie"]) == 1
    assert customer["properties"] == {"loyalty_tier": "gold"}
    assert len(customer["events"]) == 5
    reply = await br.data("customers/export-one", {"customer_ids": IDS})
    assert reply.status == 404
    assert (await br.stats())["customers_anonymized"] == 1
    # the old hard ID is free again: tracking it creates a new customer
    await br.update(IDS, {"first_name": "Anna"})
    assert len(await br.customers()) == 2


async def test_anonymize_unknown_customer_is_404(br: BR) -> None:
    reply = await br.data("customers/anonymize", {"customer_ids": {"registered": "ghost"}})
    assert reply.status == 404


async def test_seeded_segmentation(br: BR) -> None:
    await _seed_anna(br)
    reply = await br.sandbox(
        "PUT",
        f"projects/{br.token}/segmentations/seg-1",
        {
            "default": "not_bought",
            "values": [
                {"customer_ids": IDS, "value": "vip"},
                {"customer_ids": {"registered": "new@x"}, "value": "prospect"},
            ],
        },
    )
    assert reply.status == 200 and reply.body["customers"] == 2
    await br.update({"registered": "other"}, {"a": 1})
    seg = {"type": "segmentation", "id": "seg-1"}
    assert (await br.attributes(IDS, seg)).body["results"] == [{"success": True, "value": "vip"}]
    new = await br.attributes({"registered": "new@x"}, seg)
    assert new.body["results"] == [{"success": True, "value": "prospect"}]
    other = await br.attributes({"registered": "other"}, seg)
    assert other.body["results"] == [{"success": True, "value": "not_bought"}]
    missing = await br.attributes(IDS, {"type": "segmentation", "id": "nope"})
    assert missing.body["results"] == [{"success": False, "error": "Segmentation not found"}]


async def test_segmentation_seeding_validation(br: BR) -> None:
    reply = await br.sandbox(
        "PUT", f"projects/{br.token}/segmentations/s", {"values": [{"customer_ids": {}}]}
    )
    assert reply.status == 400
    reply = await br.sandbox("PUT", "projects/unknown/segmentations/s", {"values": []})
    assert reply.status == 404


async def test_computed_aggregates(br: BR) -> None:
    await _seed_anna(br)
    path = f"projects/{br.token}/aggregates"
    for agg_id, function in (("n", "count"), ("total", "sum"), ("last", "last"), ("avg", "avg")):
        reply = await br.sandbox(
            "PUT",
            f"{path}/{agg_id}",
            {"event_type": "purchase", "function": function, "property": "total_price"},
        )
        assert reply.status == 200
    reply = await br.attributes(
        IDS,
        *({"type": "aggregate", "id": a} for a in ("n", "total", "last", "avg", "zzz")),
    )
    assert reply.body["results"] == [
        {"success": True, "value": 4},
        {"success": True, "value": 100.0},
        {"success": True, "value": 40},  # the newest purchase (ts 400) is P3 = 40
        {"success": True, "value": 25.0},
        {"success": False, "error": "Aggregate not found"},
    ]
    bad = await br.sandbox("PUT", f"{path}/x", {"event_type": "purchase", "function": "median"})
    assert bad.status == 400


async def test_anonymize_bulk(br: BR) -> None:
    await _seed_anna(br)
    await br.update({"registered": "bob"}, {"email": "b@x", "score": 1})
    reply = await br.data(
        "customers/anonymize_bulk",
        {"customers": [IDS, {"registered": "ghost"}, {}, {"registered": "bob"}]},
    )
    assert reply.status == 200
    assert reply.body == {
        "success": True,
        "results": [
            {"success": True},
            {"success": False, "error": "Customer does not exist"},
            {"success": False, "error": "At least one id should be specified."},
            {"success": True},
        ],
    }
    customers = await br.customers()
    assert all(set(c["ids"]) == {"cookie"} for c in customers)
    assert [c["properties"] for c in customers] == [{}, {"score": 1}]  # PII removed
    reply = await br.data("customers/anonymize_bulk", {"customers": []})
    assert reply.status == 400


async def test_unexpected_error_is_json_500_with_request_id(
    br: BR, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.bloomreach import tracking

    def boom(ctx: object, data: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(tracking, "track_customer", boom)
    reply = await br.update(IDS, {"a": 1})
    assert reply.status == 500
    assert reply.body == {"success": False, "error": "Internal Server Error"}
    assert reply.headers["x-request-id"]


async def test_a_count_aggregate_counts_a_customers_offer_events(br: BR) -> None:
    """What loyalty's offer-count gate reads: the count of one event type, 0 without any."""
    path = f"projects/{br.token}/aggregates/checks"
    reply = await br.sandbox("PUT", path, {"event_type": "sitoo_bonus_check", "function": "count"})
    assert reply.status == 200
    await br.update(IDS, {"email": "a@x"})
    await br.update({"registered": "bo"}, {"email": "b@x"})
    for n in range(2):
        await br.event(IDS, "sitoo_bonus_check", {"id": f"b-{n}", "amount": 50}, ts=100 + n)
    await br.event(IDS, "sitoo_promotion", {"id": "p-1"}, ts=100)
    counts = [
        (await br.attributes(ids, {"type": "aggregate", "id": "checks"})).body["results"]
        for ids in (IDS, {"registered": "bo"}, {"registered": "nobody"})
    ]
    assert counts == [[{"success": True, "value": n}] for n in (2, 0, 0)]
