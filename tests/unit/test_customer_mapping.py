"""The mapping engine and normalisation, without a network."""

from __future__ import annotations

import pytest

from core_service.domain.customer import CustomerInput, Origin, normalise_email, normalise_phone
from core_service.domain.errors import InvalidArgument
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    BloomreachAccess,
    ConsentType,
    EnrichmentRule,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.domain.mapping import AttributeAnswer, CustomerMapping, Snapshot


def integration(**overrides: object) -> Integration:
    values: dict[str, object] = {
        "id": 1,
        "name": "shop",
        "display_name": "Shop",
        "company": "Shop AB",
        "market": "SE",
        "enabled": True,
        "bloomreach": BloomreachAccess("http://br", "token", "key", "secret"),
        "sitoo": SitooAccess(1, "http://sitoo", "id", "pw", 1),
        "hard_id_name": "registered",
        "hard_id_source_field": "email",
        "field_mappings": tuple(FieldMapping(f, t) for f, t in DEFAULT_FIELD_MAPPINGS),
        "consent_types": (ConsentType("consent_news", "newsletter", default_value=True),),
        "channel_categories": {"sms": "sms"},
    }
    values.update(overrides)
    return Integration(**values)  # type: ignore[arg-type]


def test_normalisation() -> None:
    assert normalise_email("  Anna.Svensson@Example.SE ") == "anna.svensson@example.se"
    assert normalise_phone("070-111 22 33", "SE") == "+46701112233"
    assert normalise_phone("+47 412 34 567", "SE") == "+4741234567"
    for bad in ("anna", "anna@", "a b@example.se"):
        with pytest.raises(InvalidArgument) as info:
            normalise_email(bad)
        assert info.value.field == "email"
    with pytest.raises(InvalidArgument):
        normalise_phone("12", "SE")


def test_key_types_resolve_through_the_mapping() -> None:
    mapping = CustomerMapping(integration())
    assert mapping.resolve_key("email", "A@B.se") == {"registered": "a@b.se"}
    assert mapping.resolve_key("customer_id", "a@b.se") == {"registered": "a@b.se"}
    assert mapping.resolve_key("mobile", "0701112233") == {"phone_id": "+46701112233"}
    assert mapping.resolve_key("email", "a@b.se", prefer_soft=True) == {"email_id": "a@b.se"}
    with pytest.raises(InvalidArgument) as info:
        mapping.resolve_key("member_number", "1")
    assert "member_number" in str(info.value) and info.value.field == "key_type"
    by_member = CustomerMapping(
        integration(field_mappings=(FieldMapping("member_number", "ids.member"),))
    )
    assert by_member.resolve_key("member_number", " 77 ") == {"member": "77"}


def test_read_plan_is_one_request_for_everything() -> None:
    rules = (
        EnrichmentRule("seg", "vip", "gold"),
        EnrichmentRule("", "", aggregate_id="agg", value_title="Points"),
    )
    mapping = CustomerMapping(integration(enrichment_rules=rules))
    types = [a["type"] for a in mapping.attributes]
    assert types.count("id") == 3  # registered, email_id, phone_id
    assert {"consent", "segmentation", "aggregate", "property"} <= set(types)
    answers = [AttributeAnswer(True, None) for _ in mapping.attributes]
    assert not mapping.snapshot(answers).found


def test_first_phone_is_shown_and_update_appends() -> None:
    mapping = CustomerMapping(integration())
    snap = Snapshot(
        hard_id="a@b.se",
        ids={"email_id": ["a@b.se"], "phone_id": ["+46701112233", "+46702223344"]},
        properties={"phone": "+46702223344", "first_name": "Anna", "last_name": "S"},
        consents={"newsletter": True, "sms": False},
    )
    customer = mapping.customer(snap)
    assert customer.fields["mobile"] == "+46701112233"
    assert customer.consents == ("consent_news",)
    plan = mapping.plan_update(
        snap,
        CustomerInput(fields={"mobile": "0703334455", "name_first": "Anna", "name_last": "S"}),
        Origin("200"),
        now=100.0,
    )
    (command,) = plan.commands
    data = command["data"]
    assert data["customer_ids"] == {"registered": "a@b.se", "phone_id": "+46703334455"}
    assert data["properties"] == {"phone": "+46703334455"}
    assert data["update_timestamp"] == 100.0
    assert plan.after.ids["phone_id"][-1] == "+46703334455"
    unchanged = mapping.plan_update(snap, CustomerInput(fields={"name_last": "S"}), Origin(), 1)
    assert unchanged.commands == ()


def test_create_sends_ids_properties_and_consent_defaults() -> None:
    mapping = CustomerMapping(integration())
    plan = mapping.plan_create(
        CustomerInput(
            fields={"email": "A@B.se", "name_first": "Anna"}, accepts_communication=["sms"]
        ),
        Origin("200", "7", "3"),
        now=50.0,
    )
    customer, *consents = plan.commands
    assert customer["data"]["customer_ids"] == {"registered": "a@b.se", "email_id": "a@b.se"}
    assert customer["data"]["properties"] == {"email": "a@b.se", "first_name": "Anna"}
    by_category = {c["data"]["properties"]["category"]: c["data"]["properties"] for c in consents}
    assert by_category["newsletter"]["action"] == "accept"  # the default
    assert by_category["sms"]["action"] == "accept"  # the channel
    assert by_category["newsletter"]["valid_until"] == "unlimited"
    assert "store 200" in by_category["newsletter"]["source"]
    with pytest.raises(InvalidArgument) as info:
        mapping.plan_create(CustomerInput(fields={"name_first": "x"}), Origin(), 1)
    assert info.value.field == "email"
    with pytest.raises(InvalidArgument) as info:
        mapping.plan_create(
            CustomerInput(fields={"email": "a@b.se"}, consents=["nope"]), Origin(), 1
        )
    assert info.value.field == "consents"
