"""Malformed input never escapes as anything but the documented error: seeded random mutations
of valid Sitoo bodies (types swapped, fields dropped or added, values at their limits, bytes
cut or flipped) through the edge's parsers. Deterministic: the seed is fixed, so a failure
reproduces and names its case."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from edge.customer_json import InputError, customer_input, parse_object
from edge.events_body import EventsBodyError, parse_events

EVENT: dict[str, Any] = {
    "event_id": "5e9fd002119a4c5fb4de5ccb9d0b90ea",
    "event_type": "order",
    "event_date": 1611138542,
    "account_id": 1500,
    "data": {
        "eshop_id": 1,
        "order_id": 12345,
        "warehouse_id": 3,
        "order_event_type": "update",
        "order_state_changed": "closed",
    },
}
CUSTOMER: dict[str, Any] = {
    "first_name": "Anna",
    "last_name": "Svensson",
    "email": "anna@example.se",
    "mobile": "0701112233",
    "invoice_address": {"address": "Storgatan 1", "zip": "11122", "city": "Stockholm"},
    "additional_options": [{"id": "newsletter", "value": True}],
    "accepts_communication": ["email"],
}
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    -(2**70),
    1.5,
    float("1e308"),
    "",
    "x" * 70_000,
    "\x00",
    "é",
    [],
    [None],
    {},
    {"": ""},
]


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.7:
        out = dict(value)
        key = rng.choice(list(out))
        roll = rng.random()
        if roll < 0.25:
            del out[key]
        elif roll < 0.4:
            out[rng.choice(["extra", "", "data", "commands"])] = rng.choice(ODD_VALUES)
        else:
            out[key] = _mutate(out[key], rng, depth + 1)
        return out
    if isinstance(value, list) and value and rng.random() < 0.7:
        out_list = list(value)
        roll = rng.random()
        if roll < 0.3:
            out_list.append(rng.choice([*out_list, *ODD_VALUES]))
        elif roll < 0.5:
            out_list = out_list * rng.randint(2, 12)
        else:
            index = rng.randrange(len(out_list))
            out_list[index] = _mutate(out_list[index], rng, depth + 1)
        return out_list
    return rng.choice(ODD_VALUES)


def _bodies(valid: Any, seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        raw = json.dumps(_mutate(valid, rng)).encode()
        roll = rng.random()
        if roll < 0.1 and raw:
            raw = raw[: rng.randrange(len(raw))]  # cut short
        elif roll < 0.2 and raw:
            index = rng.randrange(len(raw))
            raw = raw[:index] + bytes([rng.randrange(256)]) + raw[index + 1 :]  # one byte flipped
        bodies.append(raw)
    return bodies


def _events_parser(raw: bytes) -> object:
    return parse_events(raw)


def _customer_parser(raw: bytes) -> object:
    return customer_input(parse_object(raw))


@pytest.mark.parametrize(
    ("parse", "valid", "documented"),
    [
        (
            _events_parser,
            [EVENT, {**EVENT, "event_type": "shipment", "data": {"x": 1}}],
            EventsBodyError,
        ),
        (_customer_parser, CUSTOMER, InputError),
    ],
    ids=["events-spi-batch", "crm-spi-customer"],
)
def test_mutated_bodies_give_the_documented_error_or_a_valid_result(
    parse: Callable[[bytes], object], valid: Any, documented: type[Exception]
) -> None:
    assert parse(json.dumps(valid).encode())  # the seed body itself is valid
    outcomes = {"valid": 0, "refused": 0}
    for case, raw in enumerate(_bodies(valid, seed=20261128, count=3000)):
        try:
            parse(raw)
        except documented:
            outcomes["refused"] += 1
        except Exception as exc:
            pytest.fail(f"case {case}: {type(exc).__name__}: {exc} for body {raw[:200]!r}")
        else:
            outcomes["valid"] += 1
    # The mutations reach both sides of the validator, or the test would prove little.
    assert outcomes["refused"] > 1000
    assert outcomes["valid"] > 50
