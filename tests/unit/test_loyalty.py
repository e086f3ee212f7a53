"""Loyalty rules (issue 14) on an in-memory ledger: offers from events, expiry, the checks of
redeem and undo, the retry rule and the deterministic events. The database ledger and its
race are in tests/db/test_loyalty_ledger.py; the whole path in tests/e2e/test_loyalty.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from core_service.domain import loyalty, loyalty_config
from core_service.domain.customer import Origin
from core_service.domain.errors import InvalidArgument
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.domain.loyalty import Item, offers_from_events, parse_time, refused
from core_service.domain.loyalty_config import LoyaltyConfig, configure
from core_service.services.loyalty import LoyaltyService
from edge import spi_contract
from sitoo_bloomreach.v1 import customers_pb2 as pb
from tests.support.fake_ledger import FakeLedger

NOW = 1_800_000_000.0
TILL_1 = Origin("store-1", "staff-1", "register-1")
TILL_2 = Origin("store-1", "staff-2", "register-2")


def _event(kind: str, offer_id: str, **props: Any) -> dict[str, Any]:
    return {
        "type": f"sitoo_{kind}",
        "timestamp": NOW - 100,
        "properties": {"id": offer_id, **props},
    }


EVENTS = [
    _event("promotion", "p-10", name="10% off", type="cart_percent", value=10),
    _event("bonus_check", "b-50", name="Bonus", amount="50.00", currency="sek"),
    _event("promotion", "p-old", name="Gone", valid_until=NOW - 1),
    _event("bonus_check", "b-later", name="Later", amount=20, valid_until="2099-01-01T00:00:00Z"),
    _event("promotion", "p-10", name="older duplicate", value=5),
    {"type": "purchase", "properties": {"id": "not-an-offer"}},
    {"type": "sitoo_promotion", "properties": {"name": "no id"}},
]


def _integration(**loyalty: Any) -> Integration:
    return Integration(
        id=7,
        name="shop",
        display_name="shop",
        company="",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("", "", "", None),
        sitoo=SitooAccess(0, "", "", None, 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=(),
        consent_types=(),
        loyalty=LoyaltyConfig(**loyalty),
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _service() -> tuple[LoyaltyService, FakeLedger, Clock]:
    ledger, clock = FakeLedger(), Clock()
    return LoyaltyService(ledger, clock=clock), ledger, clock


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_offers_come_from_the_configured_events_newest_first_and_expired_ones_are_left_out() -> (
    None
):
    found = offers_from_events(EVENTS, LoyaltyConfig(), NOW)

    assert [(o.kind, o.offer_id, o.name) for o in found.offers] == [
        ("promotion", "p-10", "10% off"),
        ("bonus_check", "b-50", "Bonus"),
        ("bonus_check", "b-later", "Later"),
    ]
    promotion, bonus, later = found.offers
    assert (promotion.offer_type, promotion.value, promotion.value_int) == (
        "cart_percent",
        "10",
        10,
    )
    assert (bonus.money, bonus.currency, bonus.valid_until) == ("50.00", "SEK", None)
    assert later.money == "20" and later.valid_until == parse_time("2099-01-01T00:00:00+00:00")
    assert found.expired == {("promotion", "p-old")}


def test_event_types_and_property_names_are_the_integrations() -> None:
    config = configure(
        LoyaltyConfig(),
        {
            "promotion_event_type": "offer_given",
            "id_property": "offer_id",
            "name_property": "title",
        },
    )
    events = [{"type": "offer_given", "properties": {"offer_id": "x1", "title": "Summer"}}]

    (offer,) = offers_from_events(events, config, NOW).offers

    assert (offer.kind, offer.offer_id, offer.name) == ("promotion", "x1", "Summer")
    renamed = configure(LoyaltyConfig(), {"promotion_event_type": "offer_given"})
    assert {o.kind for o in offers_from_events(EVENTS, renamed, NOW).offers} == {"bonus_check"}
    off = configure(config, {"promotion_event_type": "", "bonus_check_event_type": ""})
    assert not off.enabled and off.event_types == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"id_property": ""},
        {"promotion_event_type": "has space"},
        {"promotion_event_type": "same", "bonus_check_event_type": "same"},
    ],
)
def test_bad_loyalty_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        configure(LoyaltyConfig(), changes)


def test_stored_settings_keep_only_what_differs_from_the_defaults() -> None:
    config = configure(LoyaltyConfig(), {"amount_property": "sum", "search_shows_offers": True})
    assert config.to_json() == {"amount_property": "sum", "search_shows_offers": True}
    assert LoyaltyConfig.from_json(config.to_json()) == config
    assert LoyaltyConfig.from_json({}) == LoyaltyConfig()


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1_700_000_000, 1_700_000_000.0),
        ("1700000000", 1_700_000_000.0),
        (1_700_000_000_000, 1_700_000_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),
        ("not a date", None),
        (None, None),
        ("", None),
    ],
)
def test_valid_until_reads_unix_seconds_milliseconds_and_iso_dates(
    raw: object, seconds: float | None
) -> None:
    assert parse_time(raw) == seconds


def test_the_card_marks_what_the_ledger_holds() -> None:
    service, _ledger, _ = _service()
    integration = _integration()
    _run(service.change(integration, "anna", [Item("bonus_check", "b-50")], action="redeem",
                        origin=TILL_1, events=EVENTS))  # fmt: skip

    card = _run(service.card(integration, "anna", EVENTS))

    assert {(o.offer_id, o.redeemed) for o in card} == {
        ("p-10", False),
        ("b-50", True),
        ("b-later", False),
    }
    assert _run(service.card(integration, "bertil", EVENTS))[1].redeemed is False


def test_redeem_redeem_again_undo_redeem_again() -> None:
    service, ledger, clock = _service()
    integration = _integration()
    item = [Item("bonus_check", "b-50")]

    def call(action: str, origin: Origin) -> Any:
        return _run(
            service.change(integration, "anna", item, action=action,  # type: ignore[arg-type]
                           origin=origin, events=EVENTS)
        )  # fmt: skip

    call("redeem", TILL_1)
    with pytest.raises(InvalidArgument, match="bonus_check_id 'b-50' is already redeemed"):
        call("redeem", TILL_2)
    clock.now += 1
    call("undo", TILL_2)
    with pytest.raises(InvalidArgument, match="bonus_check_id 'b-50' is not redeemed"):
        call("undo", TILL_1)
    clock.now += 1
    offers = call("redeem", TILL_1)

    assert [o.redeemed for o in offers if o.offer_id == "b-50"] == [True]
    ids = [c["command_id"] for c in ledger.queued]
    assert [c["data"]["event_type"] for c in ledger.queued] == [
        "sitoo_bonus_check_redeemed",
        "sitoo_bonus_check_undone",
        "sitoo_bonus_check_redeemed",
    ]
    assert len(set(ids)) == 3 and ids[0].endswith(":1:redeem") and ids[2].endswith(":3:redeem")
    assert "anna" not in " ".join(ids)  # command ids never name the customer


def test_unknown_expired_and_twice_named_items_are_refused_and_change_nothing() -> None:
    service, ledger, _ = _service()
    integration = _integration()
    cases = {
        "promotion_id 'p-old' has expired": [Item("promotion", "p-old")],
        "promotion_id 'nope' is not an offer": [
            Item("bonus_check", "b-50"),
            Item("promotion", "nope"),
        ],
        "named twice": [Item("promotion", "p-10"), Item("promotion", "p-10")],
        "at least one": [],
    }  # fmt: skip
    for message, items in cases.items():
        with pytest.raises(InvalidArgument, match=message):
            _run(service.change(integration, "anna", items, action="redeem", origin=TILL_1,
                                events=EVENTS))  # fmt: skip
    assert ledger.rows == {} and ledger.queued == []


def test_all_items_or_none() -> None:
    service, ledger, _ = _service()
    integration = _integration()
    _run(service.change(integration, "anna", [Item("promotion", "p-10")], action="redeem",
                        origin=TILL_1, events=EVENTS))  # fmt: skip
    both = [Item("bonus_check", "b-50"), Item("promotion", "p-10")]

    with pytest.raises(InvalidArgument, match="promotion_id 'p-10' is already redeemed"):
        _run(service.change(integration, "anna", both, action="redeem", origin=TILL_2,
                            events=EVENTS))  # fmt: skip

    assert _run(ledger.redeemed(7, "anna")) == {("promotion", "p-10")}
    assert len(ledger.queued) == 1


def test_a_pos_retry_answers_the_same_and_changes_nothing_but_only_from_the_same_till() -> None:
    service, ledger, clock = _service()
    integration = _integration()
    items = [Item("bonus_check", "b-50"), Item("promotion", "p-10")]

    def redeem(origin: Origin) -> Any:
        return _run(service.change(integration, "anna", items, action="redeem", origin=origin,
                                   events=EVENTS))  # fmt: skip

    first = redeem(TILL_1)
    clock.now += 30
    assert redeem(TILL_1) == first  # the retry: same answer
    assert len(ledger.queued) == 2  # and no new event
    with pytest.raises(InvalidArgument, match="already redeemed"):
        redeem(TILL_2)  # another till is not a retry
    with pytest.raises(InvalidArgument, match="already redeemed"):
        redeem(replace(TILL_1, register_id=""))  # no register: no retry to recognise
    clock.now += 200
    with pytest.raises(InvalidArgument, match="already redeemed"):
        redeem(TILL_1)  # past the window: a new press


def test_the_events_name_the_till_and_the_offer() -> None:
    service, ledger, _ = _service()
    _run(service.change(_integration(), "anna@example.se", [Item("promotion", "p-10")],
                        action="redeem", origin=TILL_1, events=EVENTS))  # fmt: skip

    (command,) = ledger.queued
    assert command["name"] == "customers/events"
    assert command["data"]["customer_ids"] == {"registered": "anna@example.se"}
    assert command["data"]["timestamp"] == NOW
    assert command["data"]["properties"] == {
        "promotion_id": "p-10",
        "action": "redeem",
        "store_id": "store-1",
        "staff_id": "staff-1",
        "register_id": "register-1",
        "ledger_version": 1,
        "name": "10% off",
        "type": "cart_percent",
        "value": "10",
    }


def test_with_offers_off_the_card_is_empty_and_every_item_unknown() -> None:
    service, _, _ = _service()
    integration = _integration(promotion_event_type="", bonus_check_event_type="")
    assert LoyaltyService.export(integration)[0] == ()
    assert _run(service.card(integration, "anna", EVENTS)) == ()
    with pytest.raises(InvalidArgument, match="not an offer"):
        _run(service.change(integration, "anna", [Item("promotion", "p-10")], action="redeem",
                            origin=TILL_1, events=EVENTS))  # fmt: skip


def test_the_edges_contract_module_states_what_the_core_does() -> None:
    defaults = LoyaltyConfig()
    assert {
        "promotion": defaults.promotion_event_type,
        "bonus_check": defaults.bonus_check_event_type,
    } == spi_contract.LOYALTY_DEFAULT_EVENT_TYPES
    assert spi_contract.LOYALTY_RETRY_WINDOW_SECONDS == loyalty.RETRY_WINDOW_SECONDS
    assert spi_contract.LOYALTY_MAX_OFFER_EVENTS == loyalty.MAX_OFFER_EVENTS
    assert set(spi_contract.LOYALTY_CHANGE_EVENT_TYPES) == {
        f"sitoo_{kind}_{suffix}"
        for kind in loyalty_config.KINDS
        for suffix in loyalty.EVENT_SUFFIX.values()
    }
    promotion = [f.name for f in pb.Promotion.DESCRIPTOR.fields]
    bonus_check = [f.name for f in pb.BonusCheck.DESCRIPTOR.fields]
    assert tuple(promotion[4:]) == spi_contract.LOYALTY_PROMOTION_EXTRA_FIELDS
    assert tuple(bonus_check[4:]) == spi_contract.LOYALTY_BONUS_CHECK_EXTRA_FIELDS
    item = Item("promotion", "x")
    messages = [str(refused(item, "redeem")), str(refused(item, "undo"))]
    for offers in (loyalty.OfferSet(), loyalty.OfferSet(expired=frozenset({item.key}))):
        with pytest.raises(InvalidArgument) as info:
            loyalty.check_offered([item], offers)
        messages.append(str(info.value))
    assert [any(why in m for m in messages) for why in spi_contract.LOYALTY_REFUSALS] == [
        True
    ] * len(spi_contract.LOYALTY_REFUSALS)
