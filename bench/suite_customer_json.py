"""The edge's customer serialiser generated from the proto descriptors
(``edge.customer_schema``) against the hand-written dictionary it replaced, kept here as the
baseline, on the same messages, in process."""

from __future__ import annotations

import functools
import os
import timeit
from collections.abc import Callable
from typing import Any

from edge.customer_schema import customer_to_json
from sitoo_bloomreach.v1 import customers_pb2 as pb

CARD = pb.Customer(
    customer_id="anna.svensson@example.se",
    email="anna.svensson@example.se",
    name_first="Anna",
    name_last="Svensson",
    mobile="+46701112233",
    invoice_address=pb.Address(address="Storgatan 1", zip="11122", city="Stockholm"),
    accepts_communication=["email", "sms"],
    consents=["newsletter"],
    additional_options=[pb.AdditionalOption(id="size", enum_values=["m", "l"])],
    status=pb.CustomerStatus(color="gold", text="Gold member"),
)
RICH = pb.Customer(
    customer_id=CARD.customer_id,
    email=CARD.email,
    promotions=[
        pb.Promotion(
            name=f"promo {i}",
            promotion_id=str(i),
            promotion_type=pb.PromotionType(type="percent", value_int=10),
        )
        for i in range(5)
    ],
    bonus_checks=[pb.BonusCheck(bonus_check_id="b1", name="Bonus", value="50.00")],
    sections=[
        pb.Section(title="Club", values=[pb.SectionValue(title="Level", text="Gold", type="text")])
    ],
)


def hand_written(customer: pb.Customer) -> dict[str, Any]:
    """The serialiser before issue 13 (edge/customer_json.py at a0c8679), verbatim in shape."""
    address = customer.invoice_address
    return {
        "customer_id": customer.customer_id,
        "member_number": customer.member_number,
        "email": customer.email,
        "name_first": customer.name_first,
        "name_last": customer.name_last,
        "mobile": customer.mobile,
        "invoice_address": {
            name: getattr(address, name)
            for name in ("address", "address2", "city", "zip", "state", "country_id")
        },
        "gender": customer.gender,
        "accepts_communication": list(customer.accepts_communication),
        "consents": list(customer.consents),
        "additional_options": [
            {"id": o.id, "enum_values": list(o.enum_values)} for o in customer.additional_options
        ],
        "status": {"color": customer.status.color, "text": customer.status.text},
        "promotions": [
            {
                "name": p.name,
                "promotion_id": p.promotion_id,
                "promotion_type": {
                    "type": p.promotion_type.type,
                    "value_int": p.promotion_type.value_int,
                },
                "redeemed": p.redeemed,
            }
            for p in customer.promotions
        ],
        "bonus_checks": [
            {
                "bonus_check_id": b.bonus_check_id,
                "name": b.name,
                "value": b.value,
                "redeemed": b.redeemed,
            }
            for b in customer.bonus_checks
        ],
        "voucher_passwords": list(customer.voucher_passwords),
        "store_id_home": customer.store_id_home,
        "sections": [
            {
                "title": s.title,
                "values": [{"title": v.title, "text": v.text, "type": v.type} for v in s.values],
            }
            for s in customer.sections
        ],
    }


def _per_call_us(call: Callable[[], object], number: int) -> float:
    # Best of several repeats: the least disturbed by other work on the machine.
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


async def run(quick: bool) -> str:
    number = 2_000 if quick else 20_000
    rows = []
    for name, customer in (("customer card", CARD), ("5 promotions, a bonus check", RICH)):
        assert customer_to_json(customer) == hand_written(customer)
        # Alternate the two so that a burst of other work hits both alike.
        base, new = float("inf"), float("inf")
        for _ in range(3):
            base = min(base, _per_call_us(functools.partial(hand_written, customer), number))
            new = min(new, _per_call_us(functools.partial(customer_to_json, customer), number))
        rows.append(f"| {name} | {base:.2f} | {new:.2f} | {new / base:.2f} |")
    load = os.getloadavg()[0]
    return "\n".join(
        [
            "## Edge: customer JSON from the protos",
            "",
            "Per call, in process (best of 3 rounds of 7 repeats of "
            f"{number:,} calls): the hand-written dictionary (baseline, as before issue 13) "
            "against `edge.customer_schema.customer_to_json`, generated from the descriptors.",
            "",
            "| customer | hand-written µs | generated µs | ratio |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"- 1-minute load average at the end: {load:.1f} (other work shares the machine).",
        ]
    )
