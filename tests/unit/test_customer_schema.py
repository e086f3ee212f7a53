"""The SPI customer JSON is described once, by the shared protos (edge.customer_schema): the
protos must say what Sitoo's contract says, the core must read the same field lists, and the
edge's serialisation, validation and OpenAPI schemas must cover every field they name."""

from __future__ import annotations

from typing import Any

from core_service.grpc_api import customers as core_customers
from edge import customer_schema, spi_contract
from edge.customer_json import customer_input, customer_json, purchase_json
from edge.openapi import document
from sitoo_bloomreach.v1 import customers_pb2 as pb


def test_the_protos_carry_exactly_the_contracts_customer_fields() -> None:
    assert customer_schema.CUSTOMER_FIELDS == spi_contract.CUSTOMER_FIELDS
    assert customer_schema.ADDRESS_FIELDS == spi_contract.ADDRESS_FIELDS


def test_what_the_pos_may_write_is_everything_the_crm_does_not_own() -> None:
    contract = tuple(
        name
        for name in spi_contract.CUSTOMER_FIELDS
        if name not in spi_contract.SERVER_OWNED_FIELDS
    )
    assert contract == customer_schema.WRITABLE_FIELDS


def test_the_core_reads_the_same_field_lists_as_the_edge() -> None:
    # Edge and core never import each other; both derive their lists from the protos.
    assert core_customers._SCALAR_FIELDS == customer_schema.WRITABLE_TEXT_FIELDS
    assert core_customers._ADDRESS_FIELDS == customer_schema.ADDRESS_FIELDS


def test_validation_writes_every_writable_field() -> None:
    body: dict[str, Any] = {name: f"v-{name}" for name in customer_schema.WRITABLE_TEXT_FIELDS}
    body["email"] = "anna@example.se"
    body["invoice_address"] = {sub: "SE" for sub in customer_schema.ADDRESS_FIELDS}
    body["accepts_communication"] = ["email"]
    body["consents"] = ["newsletter"]
    body["additional_options"] = [{"id": "size", "enum_values": ["m"]}]
    assert set(body) == set(customer_schema.WRITABLE_FIELDS)

    message = customer_input(body)

    for name in customer_schema.WRITABLE_FIELDS:
        flag = f"set_{name}"
        if flag in pb.CustomerInput.DESCRIPTOR.fields_by_name:
            assert getattr(message, flag), name
        else:
            assert message.HasField(name), name  # type: ignore[arg-type]  # names from protos
    assert message.invoice_address.country_id == "SE"
    assert message.email == "anna@example.se"


def test_a_customer_serialises_to_sitoos_json() -> None:
    customer = pb.Customer(
        customer_id="anna@example.se",
        email="anna@example.se",
        name_first="Anna",
        invoice_address=pb.Address(city="Stockholm"),
        accepts_communication=["email"],
        additional_options=[pb.AdditionalOption(id="size", enum_values=["m", "l"])],
        status=pb.CustomerStatus(color="gold", text="Gold"),
        promotions=[
            pb.Promotion(
                name="10%",
                promotion_id="p1",
                promotion_type=pb.PromotionType(type="percent", value_int=10),
                redeemed=True,
            )
        ],
        bonus_checks=[pb.BonusCheck(bonus_check_id="b1", name="Bonus", value="50.00")],
        voucher_passwords=["secret-1"],
        sections=[pb.Section(title="Club", values=[pb.SectionValue(title="Level", text="Gold")])],
    )

    body = customer_json(customer)

    assert list(body) == list(spi_contract.CUSTOMER_FIELDS)
    assert body == {
        "customer_id": "anna@example.se",
        "member_number": "",
        "email": "anna@example.se",
        "name_first": "Anna",
        "name_last": "",
        "mobile": "",
        "invoice_address": {
            "address": "",
            "address2": "",
            "city": "Stockholm",
            "zip": "",
            "state": "",
            "country_id": "",
        },
        "gender": "",
        "accepts_communication": ["email"],
        "consents": [],
        "additional_options": [{"id": "size", "enum_values": ["m", "l"]}],
        "status": {"color": "gold", "text": "Gold"},
        "promotions": [
            {
                "name": "10%",
                "promotion_id": "p1",
                "promotion_type": {"type": "percent", "value_int": 10},
                "redeemed": True,
                "valid_until": 0,
                "value": "",
                "currency": "",
            }
        ],
        "bonus_checks": [
            {
                "bonus_check_id": "b1",
                "name": "Bonus",
                "value": "50.00",
                "redeemed": False,
                "description": "",
                "valid_until": 0,
                "currency": "",
            }
        ],
        "voucher_passwords": ["secret-1"],
        "store_id_home": "",
        "sections": [{"title": "Club", "values": [{"title": "Level", "text": "Gold", "type": ""}]}],
    }
    assert "customer_id" not in customer_json(customer, with_id=False)
    # A fresh dictionary per call: dropping the id must not touch another response.
    assert "customer_id" in customer_json(customer)


def test_a_purchase_serialises_to_sitoos_json() -> None:
    purchase = pb.Purchase(
        purchase_id="42",
        purchase_status="success",
        timestamp=1611138542,
        total_price="99.00",
        items=[pb.PurchaseItem(sku="A-1", name="Shirt", quantity="1", total_price="99.00")],
    )
    assert purchase_json(purchase) == {
        "purchase_id": "42",
        "purchase_status": "success",
        "timestamp": 1611138542,
        "total_price": "99.00",
        "total_price_without_tax": "",
        "currency": "",
        "store_id": "",
        "store_name": "",
        "original_purchase_id": "",
        "items": [{"sku": "A-1", "name": "Shirt", "quantity": "1", "total_price": "99.00"}],
    }


def test_the_openapi_schemas_name_the_same_fields() -> None:
    schemas = document()["components"]["schemas"]
    assert tuple(schemas["Customer"]["properties"]) == spi_contract.CUSTOMER_FIELDS
    assert set(schemas["CustomerInput"]["properties"]) == set(customer_schema.WRITABLE_FIELDS)
    address = schemas["CustomerInput"]["properties"]["invoice_address"]["properties"]
    assert tuple(address) == spi_contract.ADDRESS_FIELDS
    promotion = schemas["Customer"]["properties"]["promotions"]["items"]["properties"]
    assert promotion["promotion_type"]["properties"]["value_int"] == {"type": "integer"}
    assert promotion["redeemed"] == {"type": "boolean"}
    assert tuple(schemas["Purchase"]["properties"]) == tuple(
        f.name for f in pb.Purchase.DESCRIPTOR.fields
    )
