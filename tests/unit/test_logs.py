from __future__ import annotations

import json
import logging

from runtime.logs import JsonFormatter, mask_pii, request_id_var


def test_emails_phones_and_credentials_are_masked() -> None:
    text = mask_pii(
        "customer John.Doe@Example.com mobile +46 70 111 22 33 alt 0701112233 "
        "header Basic dXNlcjpwYXNz token Bearer abc.def"
    )
    assert "John.Doe" not in text and "J***@Example.com" in text
    assert "70 111" not in text and "0701112233" not in text
    assert "dXNlcjpwYXNz" not in text and "abc.def" not in text


def test_addresses_times_and_small_numbers_stay_readable() -> None:
    text = "listening on 127.0.0.1:50051 at 21:40:37, order 1234, took 12.5 ms"
    assert mask_pii(text) == text


def test_json_lines_carry_request_id_and_masked_extras() -> None:
    record = logging.LogRecord("edge", logging.INFO, __file__, 1, "hit %s", ("a@b.se",), None)
    record.key = "anna@example.com"
    token = request_id_var.set("req-1")
    try:
        line = json.loads(JsonFormatter("edge").format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-1"
    assert line["service"] == "edge"
    assert "a@b.se" not in line["msg"]
    assert line["key"] == "a***@example.com"
