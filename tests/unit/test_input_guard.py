"""The edge's input guard on its own: what it lets through is exactly what came in (or what
the core decodes back), and what it refuses is refused without RecursionError or ValueError
escaping."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import pytest

from edge import spi_contract
from edge.input_guard import InputRejected, origin_header, parse_json, query_int


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    value = {"note": "[" * 500 + "{" * 500 + '\\"]', "list": [[[1]]]}
    assert parse_json(json.dumps(value).encode()) == value


def test_nesting_up_to_the_bound_parses_and_one_more_is_refused() -> None:
    depth = spi_contract.MAX_JSON_DEPTH
    assert parse_json(b"[" * depth + b"]" * depth) is not None
    with pytest.raises(InputRejected, match="nested deeper"):
        parse_json(b"[" * (depth + 1) + b"]" * (depth + 1))
    # Unbalanced and far deeper than Python's recursion limit: refused, not a RecursionError.
    with pytest.raises(InputRejected):
        parse_json(b'{"a":[' * 100_000)


def test_numbers_are_bounded() -> None:
    assert parse_json(b"[9223372036854775807, -1.5e300]") == [9223372036854775807, -1.5e300]
    for body in (b"[" + b"1" * 5000 + b"]", b"[1e999]", b"[NaN]", b"[-Infinity]"):
        with pytest.raises(InputRejected):
            parse_json(body)


def test_utf8_with_or_without_bom_and_nothing_else() -> None:
    assert parse_json('\ufeff{"a": "ö"}'.encode()) == {"a": "ö"}
    with pytest.raises(InputRejected, match="UTF-8"):
        parse_json('{"a": "ö"}'.encode("utf-16"))


@pytest.mark.parametrize("decoded", ["Butik Söder", "100%", "plain-1", "a+b", "今日"])
def test_origin_headers_round_trip_through_the_cores_unquote(decoded: str) -> None:
    # Sitoo sends them URL-encoded; the core unquotes the metadata value once.
    sent = origin_header({"Store-ID": quote(decoded)}, "Store-ID")
    assert sent.isascii() and sent.isprintable()
    assert unquote(sent) == decoded


@pytest.mark.parametrize("raw", ["a\tb", "%09", "%00", "%7F", "%C2%85", "\udcff", "%ff", "x" * 201])
def test_origin_headers_refused(raw: str) -> None:
    with pytest.raises(InputRejected, match="Store-ID"):
        origin_header({"Store-ID": raw}, "Store-ID")


@pytest.mark.parametrize("raw", ["²", "\u0661", "-1", "+1", " 1", "1 ", "", "101", "9" * 5000])
def test_query_int_is_ascii_digits_within_bounds(raw: str) -> None:
    with pytest.raises(InputRejected, match="limit"):
        query_int({"limit": raw}, "limit", default=0, maximum=100)
    assert query_int({"limit": "100"}, "limit", default=0, maximum=100) == 100
    assert query_int({}, "limit", default=7, maximum=100) == 7
