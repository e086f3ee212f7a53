"""The field checkers of Sitoo's order model and the encodings they hold values to (spec §5.3):
``money`` a string with 2 decimals, ``decimal`` a string with 3, dates integer Unix seconds.
Each checker names the field that broke it, as a ``400``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.sitoo_api.errors import ApiError

JsonObject = dict[str, Any]
Checker = Callable[[str, object], object]
Spec = dict[str, tuple[Checker, object]]

ORDER_STATES = {0: "Open", 10: "Closed", 20: "Cancelled", -1: "Abandoned"}
PAYMENT_STATES = {
    0: "None",
    10: "Pending",
    15: "Reserved",
    20: "Successful",
    30: "Cancelled",
    40: "Failed",
}
ORDER_TYPES = {10: "Order", 100: "Booking", 110: "POSParked"}
ORDER_ITEM_TYPE_PRODUCT = 10
ORDER_LOG_CREATED = 0
WRITABLE_LOG_TYPES = frozenset({900, 910})  # ReadyForPickup, PickupRejected

_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")
_MONEY = re.compile(r"^-?\d{1,13}(\.\d{1,2})?$")
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,3})?$")
EXTERNALID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
COUNTRY = re.compile(r"^([A-Z]{2})?$")  # "" is Sitoo's "not set"
CURRENCY = re.compile(r"^[A-Z]{3}$")


# --- encodings ---------------------------------------------------------------------------


def format_money(value: Decimal) -> str:
    """``Decimal`` → Sitoo money string (2 decimals, half-up, never ``-0.00``)."""
    quantized = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if quantized == 0:
        quantized = abs(quantized)
    return f"{quantized:.2f}"


def format_decimal(value: Decimal) -> str:
    """``Decimal`` → Sitoo decimal string (3 decimals)."""
    quantized = value.quantize(_MILLI, rounding=ROUND_HALF_UP)
    if quantized == 0:
        quantized = abs(quantized)
    return f"{quantized:.3f}"


def money(value: str | int | Decimal) -> str:
    """Normalise a money value given as text, int or ``Decimal`` to Sitoo's money string."""
    return format_money(Decimal(str(value)))


def parse_money(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


# --- checkers ------------------------------------------------------------------------------


def field_error(path: str, expected: str) -> ApiError:
    return ApiError(400, f"Invalid value for field '{path}': expected {expected}")


def text(
    *, nullable: bool = True, max_len: int = 1000, regex: re.Pattern[str] | None = None
) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) > max_len:
            raise field_error(path, f"a string of at most {max_len} characters")
        if regex is not None and not regex.match(value):
            raise field_error(path, f"a string matching {regex.pattern}")
        return value

    return check


def integer(
    *, nullable: bool = True, choices: Mapping[int, str] | None = None, minimum: int | None = None
) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise field_error(path, "an integer")
        if choices is not None and value not in choices:
            raise field_error(path, f"one of {sorted(choices)}")
        if minimum is not None and value < minimum:
            raise field_error(path, f"an integer >= {minimum}")
        return value

    return check


def number(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise field_error(path, "a number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return check


def money_text(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _MONEY.match(value):
            raise field_error(path, 'a money string such as "123.50"')
        return format_money(Decimal(value))

    return check


def decimal_text(*, nullable: bool = True) -> Checker:
    def check(path: str, value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _DECIMAL.match(value):
            raise field_error(path, 'a decimal string such as "1.000"')
        return format_decimal(Decimal(value))

    return check


def string_map(path: str, value: object) -> dict[str, str]:
    """``additionaldata``: an object of string → string."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise field_error(path, "an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise field_error(f"{path}.{key}", "a string")
    return dict(value)


def as_object(path: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise field_error(path, "an object")
    return value


def as_list(path: str, value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise field_error(path, "an array")
    return value


def check_fields(
    path: str,
    body: Mapping[str, object],
    spec: Spec,
    *,
    extra: tuple[str, ...] = (),
    partial: bool = False,
) -> JsonObject:
    """Validate ``body`` against ``spec``; unknown fields are a 400 naming the field."""
    for name in body:
        if name not in spec and name not in extra:
            raise ApiError(400, f"Unknown or read-only field '{path}{name}'")
    out: JsonObject = {}
    for name, (check, default) in spec.items():
        if name in body:
            out[name] = check(f"{path}{name}", body[name])
        elif not partial:
            out[name] = default
    return out


def require_fields(path: str, out: Mapping[str, object], *names: str) -> None:
    for name in names:
        if out.get(name) is None:
            raise ApiError(400, f"Missing required field '{path}{name}'")
