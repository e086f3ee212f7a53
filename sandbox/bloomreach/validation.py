"""Validation of tracking bodies: customer_ids, properties, timestamps and size limits.

Messages quoted in the docs are reproduced verbatim; the others are marked [inferred].
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.bloomreach.config import Limits, ProjectConfig
from sandbox.bloomreach.consent import is_number

NO_ID = "At least one id should be specified."
NO_VALID_ID = "At least one valid id should be specified"
INVALID_ID = "Invalid customer_id"  # [documented] message; used for unknown ID names [inferred]
NO_PROPERTIES = "At least one property should be specified"  # [inferred] text
INVALID_PROPERTIES = "Invalid properties"  # [inferred]
NON_ASCII_NAME = "Property names must be ASCII"  # [inferred]; attribute names are ASCII
INVALID_TIMESTAMP = "Invalid timestamp"  # [inferred]: only Unix seconds are accepted
INVALID_EVENT_TYPE = "Invalid event_type"  # [inferred]
MESSAGE_TOO_LARGE = "Message is too large (limit 800 KB)"  # [inferred] text
TOO_MANY_PROPERTIES = "Too many properties (limit 255)"  # [inferred] text
VALUE_TOO_LARGE = "Property value is too large (limit 16 KB): {name}"  # [inferred] text

_INVALID_ID_VALUES = frozenset({"null", "undefined"})


class ValidationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def customer_ids(data: dict[str, Any], project: ProjectConfig) -> dict[str, str]:
    """The valid IDs of ``data["customer_ids"]``; invalid values are left out.

    [inferred, stricter] ID values must be strings, and every ID name must be one of the
    project's configured hard or soft IDs ("Invalid customer_id" otherwise).
    """
    raw = data.get("customer_ids")
    if not isinstance(raw, dict) or not raw:
        raise ValidationError(NO_ID)
    ids: dict[str, str] = {}
    for name, value in raw.items():
        if name not in project.hard_ids and name not in project.soft_ids:
            raise ValidationError(INVALID_ID)
        if (
            isinstance(value, str)
            and value not in _INVALID_ID_VALUES
            and any(ch.isalnum() for ch in value)
        ):
            ids[name] = value
    if not ids:
        raise ValidationError(NO_VALID_ID)
    return ids


def timestamp(data: dict[str, Any], key: str, default: float) -> float:
    """Unix seconds (int or float). Missing/null -> ``default`` (the server's receive time).

    [inferred, stricter] ISO 8601 strings are refused: the docs only partly support them and
    tell integrations to send Unix seconds. Milliseconds are stored as sent (a far-future date).
    """
    value = data.get(key)
    if value is None:
        return default
    if not is_number(value):
        raise ValidationError(INVALID_TIMESTAMP)
    return float(value)


def properties(data: dict[str, Any], limits: Limits, *, event: bool) -> dict[str, Any]:
    """The ``properties`` object: at least one, ASCII names, value and count limits.

    [inferred, stricter] events also need at least one property (the current docs say so).
    """
    props = data.get("properties")
    if props is None:
        raise ValidationError(NO_PROPERTIES)
    if not isinstance(props, dict):
        raise ValidationError(INVALID_PROPERTIES)
    if not props:
        raise ValidationError(NO_PROPERTIES)
    if event and len(props) > limits.max_event_properties:
        raise ValidationError(TOO_MANY_PROPERTIES)
    max_bytes = limits.max_property_value_bytes
    quick = max_bytes // 4  # a str of at most this many characters fits in UTF-8
    for name, value in props.items():
        if not name.isascii():
            raise ValidationError(NON_ASCII_NAME)
        if isinstance(value, str):
            if len(value) > quick and len(value.encode()) >= max_bytes:
                raise ValidationError(VALUE_TOO_LARGE.format(name=name))
        elif isinstance(value, dict | list) and len(json.dumps(value).encode()) >= max_bytes:
            raise ValidationError(VALUE_TOO_LARGE.format(name=name))
    return props


def event_type(data: dict[str, Any]) -> str:
    value = data.get("event_type")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(INVALID_EVENT_TYPE)
    return value


def message_size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":")).encode())
