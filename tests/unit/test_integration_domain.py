from __future__ import annotations

import pytest

from core_service.domain.errors import InvalidArgument
from core_service.domain.integration import (
    ConsentType,
    FieldMapping,
    validate_channel_categories,
    validate_consent_types,
    validate_field_mappings,
    validate_hard_id,
    validate_name,
)


@pytest.mark.parametrize("name", ["acme", "acme-se", "a1", "x" * 64])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "Acme", "-acme", "acme-", "a_b", "a/b", "x" * 65])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_name(name)
    assert info.value.field == "name"


def test_mapping_rules() -> None:
    ok = [FieldMapping("email", "ids.email_id"), FieldMapping("mobile", "properties.phone")]
    assert validate_field_mappings(ok) == tuple(ok)
    with pytest.raises(InvalidArgument, match="unknown Sitoo field"):
        validate_field_mappings([FieldMapping("shoe_size", "properties.shoe")])
    with pytest.raises(InvalidArgument, match=r"properties\.<name> or ids\.<name>"):
        validate_field_mappings([FieldMapping("email", "email")])
    with pytest.raises(InvalidArgument, match="two Sitoo fields"):
        validate_field_mappings([FieldMapping("email", "ids.x"), FieldMapping("mobile", "ids.x")])


def test_hard_id_rules() -> None:
    validate_hard_id("registered", "email")
    with pytest.raises(InvalidArgument, match="hard_id_source_field"):
        validate_hard_id("registered", "name_first")
    with pytest.raises(InvalidArgument, match="hard_id_name"):
        validate_hard_id("bad name", "email")


def test_consents_and_channels() -> None:
    with pytest.raises(InvalidArgument, match="appears twice"):
        validate_consent_types([ConsentType("a", "news"), ConsentType("a", "sms")])
    with pytest.raises(InvalidArgument, match="category"):
        validate_consent_types([ConsentType("a", "")])
    with pytest.raises(InvalidArgument, match="unknown communication channel"):
        validate_channel_categories({"pigeon": "news"})
