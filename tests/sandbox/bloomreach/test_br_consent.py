"""Consents: consent events, validity (accept / reject / valid_until), modes, categories."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.bloomreach import ApiKey, BloomreachConfig, ConsentCategory, ProjectConfig
from sandbox.bloomreach.testing import BR, PUBLIC, Reply, basic
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}
MODES = ("valid", "until", "timestamp", "source", "message")


async def consent(br: BR, ts: float, category: str = "newsletter", **props: Any) -> Reply:
    reply = await br.event(IDS, "consent", {"category": category, **props}, ts=ts)
    return reply


async def read(br: BR, category: str = "newsletter") -> dict[str, Any]:
    reply = await br.attributes(
        IDS, *({"type": "consent", "category": category, "mode": m} for m in MODES)
    )
    assert reply.status == 200
    assert all(r["success"] for r in reply.body["results"])
    return dict(zip(MODES, (r["value"] for r in reply.body["results"]), strict=True))


async def test_accept_unlimited_is_valid_with_all_modes(br: BR) -> None:
    reply = await consent(
        br, 1000, action="accept", valid_until="unlimited", source="sitoo_pos", message="Store 1"
    )
    assert reply.body["success"] is True
    assert await read(br) == {
        "valid": True,
        "until": "unlimited",
        "timestamp": 1000.0,
        "source": "sitoo_pos",
        "message": "Store 1",
    }


async def test_no_consent_is_false_and_null(br: BR) -> None:
    await br.update(IDS, {"a": 1})
    assert await read(br) == {
        "valid": False,
        "until": None,
        "timestamp": None,
        "source": None,
        "message": None,
    }


async def test_reject_after_accept_revokes(br: BR) -> None:
    await consent(br, 1000, action="accept", valid_until="unlimited")
    await consent(br, 2000, action="reject")
    state = await read(br)
    assert state["valid"] is False and state["timestamp"] == 2000.0


async def test_last_event_by_timestamp_wins_not_arrival_order(br: BR) -> None:
    await consent(br, 2000, action="accept", valid_until="unlimited")
    await consent(br, 1000, action="reject")  # older, arrives later
    assert (await read(br))["valid"] is True


async def test_valid_until_future_and_past(br: BR) -> None:
    now = time.time()
    await consent(br, 1000, action="accept", valid_until=now + 3600)
    assert (await read(br))["valid"] is True
    await consent(br, 1001, action="accept", valid_until=now - 3600)
    state = await read(br)
    assert state["valid"] is False
    assert state["until"] == pytest.approx(now - 3600)


@pytest.mark.parametrize(
    "props",
    [
        {"action": "accept"},  # valid_until is required for accept
        {"action": "accept", "valid_until": "forever"},
        {"action": "grant", "valid_until": "unlimited"},
        {"valid_until": "unlimited"},
    ],
)
async def test_invalid_consent_event_revokes(br: BR, props: dict[str, Any]) -> None:
    await consent(br, 1000, action="accept", valid_until="unlimited")
    reply = await consent(br, 2000, **props)
    assert reply.body["success"] is True  # stored, but it revokes the consent
    assert (await read(br))["valid"] is False


async def test_categories_are_independent(br: BR) -> None:
    await consent(br, 1000, action="accept", valid_until="unlimited")
    await consent(br, 1000, category="sms", action="reject")
    assert (await read(br))["valid"] is True
    assert (await read(br, "sms"))["valid"] is False


async def test_unknown_category_is_refused(br: BR) -> None:
    reply = await consent(br, 1000, category="postal", action="accept", valid_until="unlimited")
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": ["Unknown consent category"]}
    assert await br.events("consent") == []


async def test_category_sources_decide_which_api_may_change_it(start: Starter) -> None:
    closed = ConsentCategory("profiling", sources={"private_api": False, "public_api": True})
    config = BloomreachConfig(
        projects={
            "p": ProjectConfig("p", consent_categories=(ConsentCategory("newsletter"), closed))
        },
        api_keys=(ApiKey("k", "s"), ApiKey("pub", None)),
        seed=1,
    )
    br = await start(config)
    props = {"category": "profiling", "action": "accept", "valid_until": "unlimited"}
    reply = await br.event(IDS, "consent", props, ts=1, auth=basic("k", "s"))
    assert reply.status == 200
    assert reply.body == {
        "success": False,
        "errors": ["Consent category cannot be changed from this API"],
    }
    reply = await br.event(IDS, "consent", props, ts=1, auth="Token pub")
    assert reply.body["success"] is True
    news = {"category": "newsletter", "action": "accept", "valid_until": "unlimited"}
    reply = await br.event(IDS, "consent", news, ts=1, auth="Token pub")  # public_api false
    assert reply.body["success"] is False


async def test_consent_categories_endpoint_shape(br: BR) -> None:
    reply = await br.request("GET", f"/data/v2/projects/{br.token}/consent/categories")
    assert reply.status == 200
    first = reply.body["results"][0]
    assert first == {
        "id": "newsletter",
        "legitimate_interest": False,
        "sources": {
            "crm": True,
            "import": True,
            "list_unsubscribe": True,
            "page": True,
            "private_api": True,
            "public_api": False,
            "scenario": True,
            "sms_reply": True,
        },
        "translations": {"": {"name": "Newsletter", "description": None}},
    }


async def test_consent_in_batch_and_merge_keeps_newest(br: BR) -> None:
    await br.event(
        {"cookie": "c"},
        "consent",
        {"category": "newsletter", "action": "accept", "valid_until": "unlimited"},
        ts=3000,
    )
    await consent(br, 1000, action="reject")
    assert (await read(br))["valid"] is False
    reply = await br.track(
        "batch",
        {
            "commands": [
                {
                    "name": "customers",
                    "data": {"customer_ids": {**IDS, "cookie": "c"}, "properties": {"x": 1}},
                }
            ]
        },
    )
    assert reply.body["results"][0]["success"] is True
    assert (await read(br))["valid"] is True  # the merged customer's newest consent wins


async def test_public_token_reads_no_consents(br: BR) -> None:
    reply = await br.attributes(IDS, {"type": "consent", "category": "newsletter"})
    assert reply.status == 200
    reply = await br.data(
        "customers/attributes",
        {"customer_ids": IDS, "attributes": [{"type": "consent", "category": "newsletter"}]},
        auth=PUBLIC,
    )
    assert reply.status == 401
