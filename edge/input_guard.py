"""The one gate between what a caller sends and what the edge puts into gRPC metadata and
protobuf strings. Everything that crosses it is checked here, and nowhere else decides:

* headers that travel as gRPC metadata must be printable ASCII there; the origin headers are
  URL-decoded as Sitoo's contract says, checked, and re-encoded so the core gets them back
  exactly;
* protobuf strings must be valid UTF-8: a JSON escape like "\\ud800" yields a lone surrogate,
  which protobuf cannot encode;
* JSON bodies are parsed with bounded nesting (the C parser recurses, and deep input would
  raise RecursionError) and bounded numbers (int() of thousands of digits raises, and is slow);
* integer query parameters are ASCII digits only (str.isdigit() accepts "²").

Anything refused raises InputRejected, which the request middleware answers as 400 with
Sitoo's error body. The bounds themselves are in edge.spi_contract (inferred).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any, Final
from urllib.parse import quote, unquote

from edge import spi_contract as spi


class InputRejected(ValueError):
    """The request cannot be passed on; the message says which part and why (no values)."""


# Printable ASCII: what a non-binary gRPC metadata value may hold.
_PRINTABLE_ASCII: Final = re.compile(r"[\x20-\x7e]*")
# C0/C1 controls, DEL, and surrogates (left by non-UTF-8 bytes decoded with surrogateescape).
_UNPRINTABLE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Everything printable in ASCII except '%', which is escaped so that the core's one unquote
# gives back exactly the decoded value.
_METADATA_SAFE: Final = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def authorization(headers: Mapping[str, str]) -> str:
    value = headers.get("Authorization", "")
    if len(value) > spi.MAX_AUTHORIZATION_LENGTH:
        raise InputRejected(
            f"the Authorization header is longer than {spi.MAX_AUTHORIZATION_LENGTH} characters"
        )
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InputRejected("the Authorization header must be printable ASCII")
    return value


def origin_header(headers: Mapping[str, str], name: str) -> str:
    """Store-ID, Staff-ID or Register-ID as gRPC metadata: decoded, checked, re-encoded
    (printable ASCII; the core unquotes it once). Empty when absent."""
    raw = headers.get(name, "")
    if not raw:
        return ""
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InputRejected(f"the {name} header is not URL-encoded UTF-8") from None
    if _UNPRINTABLE.search(decoded):
        raise InputRejected(f"the {name} header holds control characters or invalid bytes")
    if len(decoded) > spi.MAX_ORIGIN_HEADER_LENGTH:
        raise InputRejected(
            f"the {name} header is longer than {spi.MAX_ORIGIN_HEADER_LENGTH} characters"
        )
    return quote(decoded, safe=_METADATA_SAFE)


def proto_text(value: str, where: str) -> str:
    """``value`` if protobuf can carry it as a string (valid UTF-8, no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputRejected(f"{where} is not valid Unicode (a lone surrogate)") from None
    return value


def query_int(query: Mapping[str, str], name: str, *, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if (
        not 1 <= len(raw) <= spi.MAX_QUERY_INT_DIGITS
        or not raw.isascii()
        or not raw.isdigit()
        or int(raw) > maximum
    ):
        raise InputRejected(f"{name} must be an integer from 0 to {maximum}")
    return int(raw)


# ---- JSON -----------------------------------------------------------------------------------

# A JSON string, escapes included (unrolled so the regex engine stays linear on long strings).
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}
# Digits to "0", everything else to " ": a body with no run of "0" longer than any number we
# take cannot hold a too-long number (bytes.translate and `in` run in C, ~1 µs per KB).
_DIGITS_ONLY: Final = bytes(ord("0") if b in b"0123456789" else ord(" ") for b in range(256))
_LONG_RUN: Final = b"0" * (spi.MAX_JSON_NUMBER_LENGTH + 1)


def _too_deep(text: str, limit: int) -> bool:
    # Fast path: a body with few brackets cannot be deep (two C-level counts, no scan).
    if text.count("[") + text.count("{") <= limit:
        return False
    # Strings out (brackets inside them do not nest), then only the brackets are left; the
    # running sum of +1/-1 is the depth. All in C: no Python loop per character or token.
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


def _number(text: str) -> None:
    if len(text) > spi.MAX_JSON_NUMBER_LENGTH:
        raise InputRejected(
            f"the body holds a number longer than {spi.MAX_JSON_NUMBER_LENGTH} characters"
        )


def _int(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise InputRejected("the body holds a number too large for a float")
    return value


def _constant(name: str) -> Any:
    raise InputRejected(f"{name} is not JSON")


# Built once: json.loads with hooks would build a decoder (and its scanner) per call.
_DECODER: Final = json.JSONDecoder(parse_float=_float, parse_constant=_constant)
# Also bounds integers, at a Python call per number: only for bodies with long digit runs.
_BOUNDED_DECODER: Final = json.JSONDecoder(
    parse_int=_int, parse_float=_float, parse_constant=_constant
)


def parse_json(raw: bytes) -> Any:
    """The body as JSON (UTF-8, an optional BOM), within the nesting and number bounds."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputRejected("the body is not UTF-8") from None
    if _too_deep(text, spi.MAX_JSON_DEPTH):
        raise InputRejected(f"the body is nested deeper than {spi.MAX_JSON_DEPTH} levels")
    decoder = _BOUNDED_DECODER if _LONG_RUN in raw.translate(_DIGITS_ONLY) else _DECODER
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise InputRejected(f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        # Unreachable with the depth check above; kept so no input can ever escape as a 500.
        raise InputRejected("the body is nested too deeply") from None


# ---- Redeem bodies (spec §5.7, §5.8; the reading is in edge.spi_contract) ----------------


def redeem_items(data: Any) -> list[tuple[str, str]]:
    """The items of a Redeem / Undo Redeem body as ``(key, id)`` pairs, ``key`` one of
    ``spi.REDEEM_ITEM_KEYS``; raises InputRejected naming the item at fault."""
    if isinstance(data, dict):
        items = data.get(spi.REDEEM_ITEMS_KEY)
        if not isinstance(items, list):
            raise InputRejected(f"{spi.REDEEM_ITEMS_KEY} must be an array of redeem items")
    elif isinstance(data, list) and spi.REDEEM_ACCEPTS_BARE_LIST:
        items = data
    else:
        raise InputRejected(f"the body must be an object with {spi.REDEEM_ITEMS_KEY}")
    if not items:
        raise InputRejected(f"{spi.REDEEM_ITEMS_KEY} must hold at least one item")
    if len(items) > spi.MAX_REDEEM_ITEMS:
        raise InputRejected(f"{spi.REDEEM_ITEMS_KEY} holds more than {spi.MAX_REDEEM_ITEMS} items")
    parsed: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        parsed.append(_redeem_item(item, f"{spi.REDEEM_ITEMS_KEY}[{index}]"))
    seen: dict[tuple[str, str], int] = {}
    for index, pair in enumerate(parsed):
        if pair in seen:
            raise InputRejected(
                f"{spi.REDEEM_ITEMS_KEY}[{index}].{pair[0]}: the same id as "
                f"{spi.REDEEM_ITEMS_KEY}[{seen[pair]}]; an offer is redeemed once per call"
            )
        seen[pair] = index
    return parsed


def _redeem_item(item: Any, where: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise InputRejected(f"{where} must be an object")
    given = [key for key in spi.REDEEM_ITEM_KEYS if item.get(key) is not None]
    if len(given) != 1:
        raise InputRejected(f"{where} must hold exactly one of {', '.join(spi.REDEEM_ITEM_KEYS)}")
    (key,) = given
    value = item[key]
    if not isinstance(value, str):
        raise InputRejected(f"{where}.{key} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputRejected(f"{where}.{key} must not be empty")
    if len(value) > spi.MAX_OFFER_ID_LENGTH:
        raise InputRejected(f"{where}.{key} is longer than {spi.MAX_OFFER_ID_LENGTH} characters")
    if _UNPRINTABLE.search(value):
        raise InputRejected(f"{where}.{key} holds control characters or invalid text")
    return key, value
