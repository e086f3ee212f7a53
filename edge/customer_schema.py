"""The SPI's customer JSON, described once: by the shared protos, whose field names are
Sitoo's (protos/sitoo_bloomreach/v1/customers.proto). ``Customer`` is what every response
carries, ``CustomerInput`` what the POS may write (its ``optional string`` fields are the
plain text ones; ``set_*`` flags are presence markers, not JSON). The edge's serialisation,
the writable field list its validation walks and the OpenAPI schemas are all derived here;
tests/unit/test_customer_schema.py checks the protos against ``edge.spi_contract``.

Serialisers are generated once per message type at import (one dict display each), so a
response costs what the hand-written dictionaries did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from sitoo_bloomreach.v1 import customers_pb2 as pb

ToJson = Callable[[Any], dict[str, Any]]

# Presence flags of CustomerInput: a list is written when its flag is set.
_FLAG_PREFIX: Final = "set_"

_JSON_TYPES: Final = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BOOL: "boolean",
    FieldDescriptor.TYPE_INT32: "integer",
    FieldDescriptor.TYPE_INT64: "integer",
    FieldDescriptor.TYPE_UINT32: "integer",
    FieldDescriptor.TYPE_UINT64: "integer",
}


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _expression(descriptor: Descriptor, source: str, depth: int = 0) -> str:
    """A dict display reading every field of ``source`` (a message), nested messages inline."""
    items = []
    for field in descriptor.fields:
        value = f"{source}.{field.name}"
        if field.message_type is not None:
            if _is_repeated(field):
                item = f"_m{depth}"
                inner = _expression(field.message_type, item, depth + 1)
                value = f"[{inner} for {item} in {value}]"
            else:
                value = _expression(field.message_type, value, depth + 1)
        elif _is_repeated(field):
            value = f"list({value})"
        items.append(f"{field.name!r}: {value}")
    return "{" + ", ".join(items) + "}"


def _compile(descriptor: Descriptor) -> ToJson:
    # Generated once from the descriptor: the same single dict display a hand-written
    # serialiser would be, so a response costs no more than the hand-written ones it replaced
    # (a loop over the fields measured ~20% slower). Names are proto identifiers, not input.
    code = f"lambda message: {_expression(descriptor, 'message')}"
    to_json: ToJson = eval(code, {"__builtins__": {"list": list}})  # noqa: S307
    return to_json


customer_to_json: Final = _compile(pb.Customer.DESCRIPTOR)
purchase_to_json: Final = _compile(pb.Purchase.DESCRIPTOR)

# The JSON fields of a customer, in the protos' (= Sitoo's documented) order.
CUSTOMER_FIELDS: Final = tuple(f.name for f in pb.Customer.DESCRIPTOR.fields)
# What the POS may write; everything else in CUSTOMER_FIELDS is the CRM's.
WRITABLE_FIELDS: Final = tuple(
    f.name for f in pb.CustomerInput.DESCRIPTOR.fields if not f.name.startswith(_FLAG_PREFIX)
)
# The writable plain-text fields (``optional string`` in CustomerInput).
WRITABLE_TEXT_FIELDS: Final = tuple(
    f.name
    for f in pb.CustomerInput.DESCRIPTOR.fields
    if f.type == FieldDescriptor.TYPE_STRING and not _is_repeated(f)
)
ADDRESS_FIELDS: Final = tuple(f.name for f in pb.Address.DESCRIPTOR.fields)


def json_schema(descriptor: Descriptor) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3) of a response message: every field, typed, none required."""
    return {
        "type": "object",
        "properties": {field.name: _field_schema(field) for field in descriptor.fields},
    }


def _field_schema(field: FieldDescriptor) -> dict[str, Any]:
    item = (
        json_schema(field.message_type)
        if field.message_type is not None
        else {"type": _JSON_TYPES[field.type]}
    )
    return {"type": "array", "items": item} if _is_repeated(field) else item
