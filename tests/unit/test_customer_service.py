"""The customer path's use cases against an in-memory Bloomreach project
(services/upstream_ports.py's BloomreachApi): what is read, what is sent and when, and how
Bloomreach's failures become domain errors. tests/e2e/test_customers.py runs the same service
behind the real edge and core against the Bloomreach emulator over HTTP; the fakes are
tests/support/fake_upstream.py's."""

from __future__ import annotations

from typing import Any

import pytest

from core_service.domain.bloomreach_api import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachRateLimited,
    BloomreachRejected,
    BloomreachTimeout,
    BloomreachUnavailable,
)
from core_service.domain.customer import CustomerInput, Origin
from core_service.domain.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import (
    DEFAULT_FIELD_MAPPINGS,
    BloomreachAccess,
    ConsentType,
    FieldMapping,
    Integration,
    SitooAccess,
)
from core_service.metrics import CoreMetrics
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from tests.support.fake_upstream import FakeBloomreach, FakeUpstream

NOW = 1_700_000_000.0
ORIGIN = Origin(store_id="1", staff_id="anna", register_id="r1")


def integration(**overrides: Any) -> Integration:
    values: dict[str, Any] = {
        "id": 1,
        "name": "shop",
        "display_name": "Shop",
        "company": "Shop AB",
        "market": "SE",
        "enabled": True,
        "bloomreach": BloomreachAccess("http://br", "token", "key-1", "secret"),
        "sitoo": SitooAccess(1, "http://sitoo", "id", "pw", 1),
        "hard_id_name": "registered",
        "hard_id_source_field": "email",
        "field_mappings": tuple(FieldMapping(f, t) for f, t in DEFAULT_FIELD_MAPPINGS),
        "consent_types": (ConsentType("consent_news", "newsletter"),),
        "channel_categories": {},
    }
    values.update(overrides)
    return Integration(**values)


class Fixture:
    def __init__(self) -> None:
        self.bloomreach = FakeBloomreach()
        self.upstream = FakeUpstream(self.bloomreach)
        self.metrics = CoreMetrics.create()
        self.service = CustomerService(
            BloomreachClients(self.upstream),
            self.metrics,
            bloomreach_timeout_s=5.0,
            history_limit=20,
            gates=CallGates(4, 4, self.metrics),
            clock=lambda: NOW,
        )
        self.integration = integration()

    def errors(self, error_class: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "core_upstream_errors_total",
            {"upstream": "bloomreach", "integration": "shop", "error_class": error_class},
        )
        return value or 0.0


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def deadline() -> Deadline:
    return Deadline.after(8.0)


# ---- reads ------------------------------------------------------------------------------


async def test_search_miss_is_one_read_and_no_customer(fx: Fixture) -> None:
    found = await fx.service.search(fx.integration, "email", "Anna@Example.se", deadline())
    assert found == []
    assert fx.bloomreach.calls == ["attributes"]
    # Each integration reads through a pool of its own.
    assert fx.upstream.pools == ["integration:shop"]


async def test_search_hit_answers_the_customer_in_sitoo_terms(fx: Fixture) -> None:
    fx.bloomreach.add(
        {"registered": "anna@example.se", "email_id": "anna@example.se"},
        email="anna@example.se",
        first_name="Anna",
        city="Umeå",
    )
    found = await fx.service.search(fx.integration, "email", " Anna@Example.SE ", deadline())
    assert [c.customer_id for c in found] == ["anna@example.se"]
    assert found[0].fields["name_first"] == "Anna"
    assert found[0].fields["invoice_address.city"] == "Umeå"
    assert fx.bloomreach.calls == ["attributes"]


async def test_a_profile_without_the_hard_id_is_not_a_sitoo_customer(fx: Fixture) -> None:
    fx.bloomreach.add(
        {"email_id": "web@example.se", "phone_id": "+46701112233"},
        email="web@example.se",
        first_name="Web",
    )
    # Found by the soft ID (the phone), but without the hard ID it is no Sitoo customer.
    assert await fx.service.search(fx.integration, "mobile", "070-111 22 33", deadline()) == []
    assert fx.bloomreach.calls == ["attributes"]
    # ...but the create form is prefilled from it.
    prefill = await fx.service.lookup(fx.integration, "email", "web@example.se", deadline())
    assert [c.fields["name_first"] for c in prefill] == ["Web"]
    assert prefill[0].customer_id == ""


async def test_get_of_an_unknown_customer_is_not_found(fx: Fixture) -> None:
    with pytest.raises(NotFound, match=r"nobody@example\.se"):
        await fx.service.get(fx.integration, "nobody@example.se", deadline())


# ---- writes -----------------------------------------------------------------------------


async def test_create_reads_once_and_sends_one_batch(fx: Fixture) -> None:
    data = CustomerInput(fields={"email": "Ny@Example.se", "name_first": "Ny"}, consents=[])
    created = await fx.service.create(fx.integration, data, ORIGIN, deadline())
    assert created.customer_id == "ny@example.se"
    assert fx.bloomreach.calls == ["attributes", "batch"]
    [commands] = fx.bloomreach.batches
    customer = next(c for c in commands if c["name"] == "customers")
    assert customer["data"]["customer_ids"] == {
        "registered": "ny@example.se",
        "email_id": "ny@example.se",
    }
    assert customer["data"]["properties"]["first_name"] == "Ny"
    assert customer["data"]["update_timestamp"] == NOW
    # What was written reads back.
    card = await fx.service.get(fx.integration, "ny@example.se", deadline())
    assert card.fields["name_first"] == "Ny"


async def test_create_of_an_existing_customer_sends_nothing(fx: Fixture) -> None:
    fx.bloomreach.add({"registered": "anna@example.se"}, email="anna@example.se")
    data = CustomerInput(fields={"email": "anna@example.se", "name_first": "Other"})
    with pytest.raises(AlreadyExists, match=r"anna@example\.se"):
        await fx.service.create(fx.integration, data, ORIGIN, deadline())
    assert fx.bloomreach.calls == ["attributes"]
    assert fx.bloomreach.batches == []


async def test_create_without_the_hard_id_field_is_refused_before_any_call(fx: Fixture) -> None:
    with pytest.raises(InvalidArgument) as info:
        await fx.service.create(
            fx.integration, CustomerInput(fields={"name_first": "X"}), ORIGIN, deadline()
        )
    assert info.value.field == "email"
    assert fx.bloomreach.calls == []


async def test_update_sends_only_when_something_changed(fx: Fixture) -> None:
    fx.bloomreach.add(
        {"registered": "anna@example.se", "email_id": "anna@example.se"},
        email="anna@example.se",
        first_name="Anna",
        last_name="Svensson",
    )
    same = CustomerInput(fields={"name_first": "Anna", "name_last": "Svensson"})
    unchanged = await fx.service.update(fx.integration, "anna@example.se", same, ORIGIN, deadline())
    assert unchanged.fields["name_first"] == "Anna"
    assert fx.bloomreach.calls == ["attributes"]

    changed = CustomerInput(fields={"name_first": "Annie", "name_last": "Svensson"})
    updated = await fx.service.update(
        fx.integration, "anna@example.se", changed, ORIGIN, deadline()
    )
    assert updated.fields["name_first"] == "Annie"
    assert fx.bloomreach.calls == ["attributes", "attributes", "batch"]
    [commands] = fx.bloomreach.batches
    assert [c["name"] for c in commands] == ["customers"]
    # Only what changed is sent.
    assert commands[0]["data"]["properties"] == {"first_name": "Annie"}


async def test_update_of_an_unknown_customer_sends_nothing(fx: Fixture) -> None:
    with pytest.raises(NotFound):
        await fx.service.update(
            fx.integration,
            "x@example.se",
            CustomerInput(fields={"name_first": "X"}),
            ORIGIN,
            deadline(),
        )
    assert fx.bloomreach.batches == []


async def test_a_refused_command_is_an_upstream_rejection(fx: Fixture) -> None:
    fx.bloomreach.refuse.add("customer")
    data = CustomerInput(fields={"email": "ny@example.se"})
    with pytest.raises(UpstreamRejected, match="'customer'"):
        await fx.service.create(fx.integration, data, ORIGIN, deadline())
    assert fx.errors("rejected") == 1


# ---- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "domain_error", "error_class"),
    [
        (
            BloomreachRateLimited("slow down", retry_after_s=7.0),
            UpstreamRateLimited,
            "rate_limited",
        ),
        (BloomreachTimeout("late"), UpstreamTimeout, "timeout"),
        (BloomreachUnavailable("503", status=503), UpstreamUnavailable, "unavailable"),
        (BloomreachAuthFailed("401", status=401), UpstreamMisconfigured, "auth"),
        (BloomreachRejected("400", status=400), UpstreamRejected, "rejected"),
    ],
)
async def test_bloomreach_failures_become_domain_errors(
    fx: Fixture, failure: BloomreachError, domain_error: type[Exception], error_class: str
) -> None:
    fx.bloomreach.fail.append(failure)
    with pytest.raises(domain_error) as info:
        await fx.service.search(fx.integration, "email", "anna@example.se", deadline())
    assert info.value.__cause__ is failure
    assert fx.errors(error_class) == 1


async def test_rate_limit_keeps_bloomreachs_retry_after(fx: Fixture) -> None:
    fx.bloomreach.fail.append(BloomreachRateLimited("slow down", retry_after_s=7.0))
    with pytest.raises(UpstreamRateLimited) as info:
        await fx.service.get(fx.integration, "anna@example.se", deadline())
    assert info.value.retry_after_s == 7.0


async def test_refused_credentials_name_the_key_never_the_secret(fx: Fixture) -> None:
    fx.bloomreach.fail.append(BloomreachAuthFailed("Bloomreach refused the API key (401)"))
    with pytest.raises(UpstreamMisconfigured) as info:
        await fx.service.get(fx.integration, "anna@example.se", deadline())
    assert "key-1" in str(info.value)
    assert "secret" not in str(info.value).replace("API secret", "")


async def test_an_integration_without_bloomreach_access_never_calls(fx: Fixture) -> None:
    incomplete = integration(bloomreach=BloomreachAccess("http://br", "token", "key-1", None))
    with pytest.raises(UpstreamMisconfigured, match="API secret"):
        await fx.service.search(incomplete, "email", "anna@example.se", deadline())
    assert fx.bloomreach.calls == []
    assert fx.errors("misconfigured") == 1


async def test_purchase_history_of_an_unknown_customer_is_not_found(fx: Fixture) -> None:
    with pytest.raises(NotFound):
        await fx.service.purchase_history(fx.integration, "x@example.se", 5, deadline())
    assert fx.bloomreach.calls == ["export_events"]
