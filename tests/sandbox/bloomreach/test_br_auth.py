"""Authentication, project tokens, permissions, URL/transport errors and x-request-id."""

from __future__ import annotations

import gzip
import json

import pytest

from sandbox.bloomreach import ApiKey, BloomreachConfig, Permissions, ProjectConfig
from sandbox.bloomreach.config import DEFAULT_PUBLIC_TOKEN
from sandbox.bloomreach.testing import BR, PUBLIC, basic
from tests.sandbox.bloomreach.conftest import Starter

IDS = {"registered": "anna@example.com"}
OTHER = "11111111-2222-3333-4444-555555555555"


async def test_missing_authorization_is_401_not_provided(br: BR) -> None:
    reply = await br.track("customers", {"customer_ids": IDS, "properties": {"a": 1}}, auth=None)
    assert reply.status == 401
    assert reply.body == {"success": False, "error": "Access key not provided"}


@pytest.mark.parametrize("header", ["Bearer abc", "Basic", "Basic !!!notbase64", "Basic Zm9v"])
async def test_malformed_authorization_is_401_not_provided(br: BR, header: str) -> None:
    reply = await br.request("GET", f"/track/v2/projects/{br.token}/system/time", auth=header)
    assert reply.status == 401
    assert reply.body["error"] == "Access key not provided"


async def test_unknown_key_is_401_access_key_not_found(br: BR) -> None:
    reply = await br.request(
        "GET", f"/track/v2/projects/{br.token}/system/time", auth=basic("nobody", "x")
    )
    assert reply.status == 401
    assert reply.body == {"success": False, "error": "access key not found"}


async def test_wrong_secret_is_403_invalid_secret(br: BR) -> None:
    reply = await br.track(
        "customers",
        {"customer_ids": IDS, "properties": {"a": 1}},
        auth=basic("sandbox-key-id", "wrong"),
    )
    assert reply.status == 403
    assert reply.body == {"success": False, "error": "invalid secret"}
    assert await br.customers() == []


async def test_unknown_project_token_is_400_could_not_authenticate(br: BR) -> None:
    br.token = "not-a-project"
    reply = await br.track("customers", {"customer_ids": IDS, "properties": {"a": 1}})
    assert reply.status == 400
    assert reply.body == {"success": False, "error": "Could not authenticate"}


async def test_key_not_member_of_project_is_not_found(start: Starter) -> None:
    config = BloomreachConfig(
        projects={"p1": ProjectConfig("p1"), "p2": ProjectConfig("p2")},
        api_keys=(ApiKey("k", "s", projects=frozenset({"p1"})),),
    )
    br = await start(config)
    br.token = "p2"
    reply = await br.request("GET", "/track/v2/projects/p2/system/time", auth=basic("k", "s"))
    assert reply.status == 401
    assert reply.body["error"] == "access key not found"
    reply = await br.request("GET", "/track/v2/projects/p1/system/time", auth=basic("k", "s"))
    assert reply.status == 200


async def test_public_token_allowed_on_tracking_and_categories(br: BR) -> None:
    reply = await br.track("customers", {"customer_ids": IDS, "properties": {"a": 1}}, auth=PUBLIC)
    assert reply.status == 200 and reply.body["success"] is True
    reply = await br.request("GET", f"/data/v2/projects/{br.token}/consent/categories", auth=PUBLIC)
    assert reply.status == 200
    assert [c["id"] for c in reply.body["results"]] == ["newsletter", "sms"]


async def test_public_token_in_query_parameter(br: BR) -> None:
    reply = await br.request(
        "GET",
        f"/track/v2/projects/{br.token}/system/time",
        auth=None,
        params={"access_token": DEFAULT_PUBLIC_TOKEN},
    )
    assert reply.status == 200


@pytest.mark.parametrize(
    "path", ["customers/attributes", "customers/export-one", "customers/anonymize"]
)
async def test_public_token_refused_on_private_endpoints(br: BR, path: str) -> None:
    await br.update(IDS, {"a": 1})
    reply = await br.data(path, {"customer_ids": IDS, "attributes": []}, auth=PUBLIC)
    assert reply.status == 401
    assert reply.body["success"] is False


async def test_public_token_cannot_be_used_as_basic_key(br: BR) -> None:
    reply = await br.request(
        "GET", f"/track/v2/projects/{br.token}/system/time", auth=basic(DEFAULT_PUBLIC_TOKEN, "")
    )
    assert reply.status == 401
    assert reply.body["error"] == "access key not found"


async def test_unknown_url_is_404_with_documented_message(br: BR) -> None:
    reply = await br.request("POST", "/track/v2/projects/x/nothing-here", {})
    assert reply.status == 404
    assert reply.body == {
        "success": False,
        "error": "The requested URL was not found on the server",
    }
    assert reply.headers.get("x-request-id")


async def test_wrong_method_is_405(br: BR) -> None:
    reply = await br.request("GET", f"/track/v2/projects/{br.token}/batch")
    assert reply.status == 405
    assert reply.body["success"] is False


async def test_every_response_has_a_distinct_request_id(br: BR) -> None:
    replies = [
        await br.request("GET", f"/track/v2/projects/{br.token}/system/time"),
        await br.request("GET", f"/track/v2/projects/{br.token}/system/time", auth=None),
        await br.request("GET", "/nowhere"),
        await br.track("batch", {"commands": []}),
    ]
    ids = [r.headers.get("x-request-id") for r in replies]
    assert all(ids)
    assert len(set(ids)) == len(ids)


async def test_gzip_body_is_400_bad_request_and_not_stored(br: BR) -> None:
    raw = gzip.compress(json.dumps({"customer_ids": IDS, "properties": {"a": 1}}).encode())
    reply = await br.track("customers", raw=raw, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400
    assert reply.body["error"].startswith("BadRequest")
    reply = await br.track("customers", raw=raw)  # gzip bytes without the header
    assert reply.status == 400
    assert reply.body["error"].startswith("BadRequest")
    assert await br.customers() == []


async def test_non_json_content_type_is_invalid_json(br: BR) -> None:
    body = json.dumps({"customer_ids": IDS, "properties": {"a": 1}}).encode()
    reply = await br.track("customers", raw=body, headers={"Content-Type": "text/plain"})
    assert reply.status == 400
    assert reply.body == {"success": False, "errors": ["Invalid JSON"]}


def _restricted(perms: Permissions | None = None, **permissions: object) -> BloomreachConfig:
    base = BloomreachConfig.sandbox(seed=1)
    perms = perms or Permissions.from_json(permissions)
    keys = (ApiKey("limited", "pw", permissions=perms), *base.api_keys)
    return BloomreachConfig(projects=base.projects, api_keys=keys, seed=1)


LIMITED = basic("limited", "pw")


async def test_event_type_permission_refusal_is_200_success_false(start: Starter) -> None:
    br = await start(_restricted(events_set=["purchase"], customer_properties_set="*"))
    ok = await br.track(
        "customers/events",
        {"customer_ids": IDS, "event_type": "purchase", "properties": {"x": 1}},
        auth=LIMITED,
    )
    assert ok.status == 200 and ok.body["success"] is True
    refused = await br.track(
        "customers/events",
        {"customer_ids": IDS, "event_type": "purchase_item", "properties": {"x": 1}},
        auth=LIMITED,
    )
    assert refused.status == 200
    assert refused.body == {
        "success": False,
        "errors": ["Not authorized to add event of specified type"],
    }
    assert [e["type"] for e in await br.events()] == ["purchase"]


async def test_event_type_permission_in_batch(start: Starter) -> None:
    br = await start(_restricted(events_set=["purchase"]))
    reply = await br.track(
        "batch",
        {
            "commands": [
                {
                    "name": "customers/events",
                    "command_id": "c1",
                    "data": {
                        "customer_ids": IDS,
                        "event_type": "consent",
                        "properties": {"action": "accept", "category": "newsletter"},
                    },
                }
            ]
        },
        auth=LIMITED,
    )
    assert reply.status == 200
    assert reply.body["results"] == [
        {
            "success": False,
            "errors": ["Not authorized to add event of specified type"],
            "command_id": "c1",
        }
    ]


async def test_property_permission_refusal(start: Starter) -> None:
    br = await start(_restricted(customer_properties_set=["first_name"]))
    refused = await br.track(
        "customers",
        {"customer_ids": IDS, "properties": {"first_name": "A", "vip": True}},
        auth=LIMITED,
    )
    assert refused.status == 200
    assert refused.body == {
        "success": False,
        "errors": ["not authorized to update specified customer properties"],
    }
    assert await br.customers() == []
    ok = await br.track(
        "customers", {"customer_ids": IDS, "properties": {"first_name": "A"}}, auth=LIMITED
    )
    assert ok.body["success"] is True


async def test_export_one_without_gdpr_permission_is_403(start: Starter) -> None:
    br = await start(_restricted(export_customer=False))
    await br.update(IDS, {"a": 1})
    reply = await br.data("customers/export-one", {"customer_ids": IDS}, auth=LIMITED)
    assert reply.status == 403
    assert reply.body == {"success": False, "error": "No permission to export customer"}


async def test_anonymize_without_permission_is_403_and_keeps_data(start: Starter) -> None:
    br = await start(_restricted(anonymize_customer=False))
    await br.update(IDS, {"email": "anna@example.com"})
    reply = await br.data("customers/anonymize", {"customer_ids": IDS}, auth=LIMITED)
    assert reply.status == 403
    assert (await br.customers())[0]["properties"] == {"email": "anna@example.com"}


async def test_events_export_without_permission_is_403(start: Starter) -> None:
    br = await start(_restricted(events_get=["purchase"]))
    await br.event(IDS, "purchase", {"a": 1}, ts=1)
    body = {"customer_ids": IDS, "event_types": ["purchase", "purchase_item"]}
    reply = await br.data("customers/events", body, auth=LIMITED)
    assert reply.status == 403
    assert reply.body["success"] is False
    body["event_types"] = ["purchase"]
    reply = await br.data("customers/events", body, auth=LIMITED)
    assert reply.status == 200 and len(reply.body["data"]) == 1


async def test_attribute_without_permission_fails_per_item(start: Starter) -> None:
    br = await start(
        _restricted(customer_properties_get=["first_name"], events_get=[], analyses_get=False)
    )
    await br.update(IDS, {"first_name": "Anna", "secret": "x"})
    reply = await br.data(
        "customers/attributes",
        {
            "customer_ids": IDS,
            "attributes": [
                {"type": "property", "property": "first_name"},
                {"type": "property", "property": "secret"},
                {"type": "id", "id": "registered"},
                {"type": "consent", "category": "newsletter"},
            ],
        },
        auth=LIMITED,
    )
    assert reply.status == 200
    assert reply.body == {
        "success": True,
        "results": [
            {"success": True, "value": "Anna"},
            {"success": False, "error": "No permission"},
            {"success": True, "value": "anna@example.com"},
            {"success": False, "error": "No permission"},
        ],
    }


async def test_consent_categories_need_no_permission(start: Starter) -> None:
    br = await start(_restricted(Permissions.none()))
    refused = await br.update(IDS, {"a": 1}, auth=LIMITED)
    assert refused.body["success"] is False
    reply = await br.request(
        "GET", f"/data/v2/projects/{br.token}/consent/categories", auth=LIMITED
    )
    assert reply.status == 200
    assert reply.body["results"][0]["sources"]["private_api"] is True
