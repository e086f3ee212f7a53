"""Sitoo customer JSON <-> proto, with strict validation that names the offending field.

The JSON's shape (field names, which are writable) comes from ``edge.customer_schema``, i.e.
the protos. What Sitoo leaves unspecified (server-owned fields, limits, consent and
transaction shapes) is read from ``edge.spi_contract``. Unknown fields are tolerated (spec
§12.6: the docs' example has grown over time); wrong types, oversize values and broken JSON
are a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge import customer_schema as schema
from edge import spi_contract as spi
from edge.input_guard import InputRejected, parse_json, proto_text
from sitoo_bloomreach.v1 import customers_pb2 as pb

# The plain-text fields the POS may write; the lists and objects get their own checks below.
_SCALARS = schema.WRITABLE_TEXT_FIELDS


class InputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        data = parse_json(raw)
    except InputRejected as exc:
        raise InputError("", f"request body: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError("", "request body must be a JSON object (a customer)")
    return data


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(field, f"must be a string, got {type(value).__name__}")
    limit = spi.FIELD_MAX_LENGTHS.get(field, spi.MAX_TEXT_LENGTH)
    if len(value) > limit:
        raise InputError(field, f"is longer than {limit} characters")
    if "\x00" in value:
        raise InputError(field, "must not contain NUL characters")
    try:
        return proto_text(value, field)
    except InputRejected as exc:
        raise InputError("", str(exc)) from exc


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InputError(field, f"must be an array of strings, got {type(value).__name__}")
    if len(value) > spi.MAX_LIST_ITEMS:
        raise InputError(field, f"has more than {spi.MAX_LIST_ITEMS} items")
    result = []
    for index, item in enumerate(value):
        text = _text(item, f"{field}[{index}]")
        if text is None:
            raise InputError(f"{field}[{index}]", "must be a string")
        result.append(text)
    return result


def _address(address: Any) -> pb.Address:
    if not isinstance(address, dict):
        raise InputError("invoice_address", "must be an object")
    parsed = pb.Address()
    for sub in schema.ADDRESS_FIELDS:
        value = _text(address.get(sub), f"invoice_address.{sub}")
        if value is not None:
            setattr(parsed, sub, value)
    return parsed


def _channels(value: Any) -> list[str]:
    channels = _strings(value, "accepts_communication")
    for index, channel in enumerate(channels):
        if channel not in spi.CHANNELS:
            raise InputError(
                f"accepts_communication[{index}]",
                f"unknown channel {channel!r}; one of {', '.join(spi.CHANNELS)}",
            )
    return channels


def _add_options(message: pb.CustomerInput, options: Any) -> None:
    if not isinstance(options, list) or len(options) > spi.MAX_LIST_ITEMS:
        raise InputError("additional_options", "must be an array of option objects")
    message.set_additional_options = True
    for index, option in enumerate(options):
        field = f"additional_options[{index}]"
        if not isinstance(option, dict):
            raise InputError(field, "must be an object")
        option_id = _text(option.get("id"), f"{field}.id")
        if not option_id:
            raise InputError(f"{field}.id", "is required")
        values = _strings(option.get("enum_values", []), f"{field}.enum_values")
        message.additional_options.add(id=option_id, enum_values=values)


def customer_input(data: Mapping[str, Any]) -> pb.CustomerInput:
    message = pb.CustomerInput()
    for name in _SCALARS:
        value = _text(data.get(name), name)
        if value is not None:
            setattr(message, name, value)
    address = data.get("invoice_address")
    if address is not None:
        message.invoice_address.CopyFrom(_address(address))
    if data.get("accepts_communication") is not None:
        message.set_accepts_communication = True
        message.accepts_communication.extend(_channels(data["accepts_communication"]))
    if data.get("consents") is not None:
        message.set_consents = True
        message.consents.extend(_strings(data["consents"], "consents"))
    options = data.get("additional_options")
    if options is not None:
        _add_options(message, options)
    return message


def customer_json(customer: pb.Customer, *, with_id: bool = True) -> dict[str, Any]:
    body = schema.customer_to_json(customer)
    if not with_id:
        del body["customer_id"]
    return body


def consent_json(consent: pb.ConsentDefinition) -> dict[str, Any]:
    key_id, key_name, key_description, key_value = spi.CONSENT_KEYS
    return {
        key_id: consent.consent_id,
        key_name: consent.name,
        key_description: consent.description,
        key_value: consent.default_value,
    }


def purchase_json(purchase: pb.Purchase) -> dict[str, Any]:
    return schema.purchase_to_json(purchase)
