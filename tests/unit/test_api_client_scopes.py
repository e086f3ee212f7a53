"""Every RPC of the core needs exactly the scope its effect calls for, and a method nobody
assigned a scope is refused for everyone (fail closed)."""

from __future__ import annotations

import pytest

from core_service.domain.api_clients import SCOPES, new_token, token_key_id, validate_name
from core_service.domain.errors import InvalidArgument
from core_service.grpc_api.scopes import METHOD_SCOPES, required_scope
from sitoo_bloomreach.v1 import admin_pb2, customers_pb2, order_events_pb2


def _methods() -> list[str]:
    services = (
        customers_pb2.DESCRIPTOR.services_by_name["CustomerService"],
        order_events_pb2.DESCRIPTOR.services_by_name["OrderEventService"],
        admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
    )
    return [f"/{s.full_name}/{m.name}" for s in services for m in s.methods]


def test_every_rpc_has_a_known_scope() -> None:
    assert set(METHOD_SCOPES) == set(_methods())
    assert set(METHOD_SCOPES.values()) <= set(SCOPES)


def test_the_scopes_match_what_each_method_does() -> None:
    customers = "/sitoo_bloomreach.v1.CustomerService/"
    assert required_scope(customers + "SearchCustomers") == "customers:read"
    assert required_scope(customers + "GetPurchaseHistory") == "customers:read"
    assert required_scope(customers + "CreateCustomer") == "customers:write"
    assert required_scope(customers + "UpdateCustomer") == "customers:write"
    assert required_scope("/sitoo_bloomreach.v1.OrderEventService/IngestEvents") == "orders:ingest"
    assert required_scope("/sitoo_bloomreach.v1.AdminService/CreateClient") == "admin"
    # Reflection: any known client; a method of ours nobody listed: nobody.
    reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    assert required_scope(reflection) is None
    with pytest.raises(KeyError):
        required_scope("/sitoo_bloomreach.v1.CustomerService/DeleteEverything")


def test_tokens_carry_a_public_key_id() -> None:
    token, key_id = new_token()
    assert token_key_id(token) == key_id and len(key_id) == 12
    assert token_key_id(token + "x") is None
    assert token_key_id("a-service-token-from-settings") is None


@pytest.mark.parametrize("name", ["", "Upper", "-dash", "edge", "admin", "x" * 64, "a b"])
def test_bad_or_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_name(name)
