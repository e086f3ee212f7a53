"""Loyalty (issue 14): which Bloomreach customer events are the customer's promotions and
bonus checks, which of their properties hold the offer's id, name, type, value, amount,
currency and end of validity, whether a search already shows the offers, and the optional
offer-count gate (Bloomreach aggregates that let a card skip the offers export for a customer
without offers). The settings are the core's (admin.proto Integration / IntegrationInput fields
60-69, 74-75); the core has the last word and fills in its defaults for what was never set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import web

from console.forms import Errors, Form, checked, match, require, text
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb

# Bloomreach event type and property names: what the tracking API takes in practice, and no
# characters that would need escaping in the core's filters.
EVENT_TYPE_PATTERN: Final = r"[A-Za-z0-9_][A-Za-z0-9_\-.]{0,99}"
PROPERTY_PATTERN: Final = r"[A-Za-z0-9_][A-Za-z0-9_\-.]{0,99}"
AGGREGATE_PATTERN: Final = PROPERTY_PATTERN  # the core's rule for every loyalty name


@dataclass(frozen=True)
class LoyaltyField:
    name: str  # the form field and the Integration / IntegrationInput field
    label: str
    hint: str
    default: str  # the core's default, shown as the example's fallback


EVENT_TYPES: Final = (
    LoyaltyField(
        "loyalty_promotion_event_type",
        "Promotion event type",
        "Customer events of this type are the customer's promotions. Empty: no promotions.",
        "sitoo_promotion",
    ),
    LoyaltyField(
        "loyalty_bonus_check_event_type",
        "Bonus check event type",
        "Customer events of this type are the customer's bonus checks. Empty: no bonus checks.",
        "sitoo_bonus_check",
    ),
)
PROPERTIES: Final = (
    LoyaltyField("loyalty_id_property", "Id", "Unique per offer: what the POS redeems.", "id"),
    LoyaltyField("loyalty_name_property", "Name", "Shown on the customer card.", "name"),
    LoyaltyField(
        "loyalty_type_property",
        "Type",
        "Promotions: cart_percent, cart_amount, … as Sitoo knows them.",
        "type",
    ),
    LoyaltyField(
        "loyalty_value_property", "Value", "Promotions: the percent or the amount off.", "value"
    ),
    LoyaltyField("loyalty_amount_property", "Amount", "Bonus checks: the money value.", "amount"),
    LoyaltyField("loyalty_currency_property", "Currency", "ISO 4217 code, e.g. SEK.", "currency"),
    LoyaltyField(
        "loyalty_valid_until_property",
        "Valid until",
        "Unix seconds or ISO 8601; after it the offer is gone from the card.",
        "valid_until",
    ),
)
SEARCH_SHOWS_OFFERS: Final = "loyalty_search_shows_offers"
# The offer-count gate: optional, and only on when every kind that is on has its aggregate.
GATE: Final = (
    LoyaltyField(
        "loyalty_promotion_count_aggregate_id",
        "Promotion count aggregate",
        "Id of a Bloomreach aggregate counting the customer's promotion events.",
        "",
    ),
    LoyaltyField(
        "loyalty_bonus_check_count_aggregate_id",
        "Bonus check count aggregate",
        "Id of a Bloomreach aggregate counting the customer's bonus check events.",
        "",
    ),
)


def loyalty_values(integration: pb.Integration) -> dict[str, str]:
    values = {f.name: str(getattr(integration, f.name)) for f in (*EVENT_TYPES, *PROPERTIES, *GATE)}
    values[SEARCH_SHOWS_OFFERS] = "on" if integration.loyalty_search_shows_offers else ""
    return values


def loyalty_input(form: Form, errors: Errors) -> pb.IntegrationInput:
    """Every loyalty field, set (an empty event type is set too: it turns the kind off)."""
    settings = pb.IntegrationInput()
    types = {}
    for field in EVENT_TYPES:
        value = text(form, field.name)
        match(errors, field.name, value, EVENT_TYPE_PATTERN, "Letters, digits, _ - and . only.")
        setattr(settings, field.name, value)
        types[field.name] = value
    promotion, bonus_check = types.values()
    if promotion and promotion == bonus_check:
        errors.add(EVENT_TYPES[1].name, "Promotions and bonus checks need different event types.")
    for field in PROPERTIES:
        value = require(errors, form, field.name, f"{field.label.lower()} property")
        match(errors, field.name, value, PROPERTY_PATTERN, "Letters, digits, _ - and . only.")
        setattr(settings, field.name, value)
    settings.loyalty_search_shows_offers = checked(form, SEARCH_SHOWS_OFFERS)
    for field in GATE:  # empty is set too: it turns the gate off
        value = text(form, field.name)
        match(errors, field.name, value, AGGREGATE_PATTERN, "Letters, digits, _ - and . only.")
        setattr(settings, field.name, value)
    return settings


def example_event(values: dict[str, str], promotion: bool) -> dict[str, object]:
    """What a Bloomreach scenario tracks to give a customer an offer, with these names."""

    def name(field: LoyaltyField) -> str:
        return values.get(field.name) or field.default

    by_label = {f.label: f for f in PROPERTIES}
    properties: dict[str, object] = {name(by_label["Id"]): "3f2a9c1e-…"}
    if promotion:
        properties[name(by_label["Name"])] = "10% off"
        properties[name(by_label["Type"])] = "cart_percent"
        properties[name(by_label["Value"])] = 10
    else:
        properties[name(by_label["Name"])] = "Bonus 50 kr"
        properties[name(by_label["Amount"])] = "50.00"
        properties[name(by_label["Currency"])] = "SEK"
    properties[name(by_label["Valid until"])] = 1767225599
    event_type = values.get(EVENT_TYPES[0 if promotion else 1].name, "")
    return {"event_type": event_type, "properties": properties}


class LoyaltyView(ConsoleView):
    step = "loyalty"

    def render(
        self, integration: pb.Integration, values: dict[str, str], errors: Errors
    ) -> web.Response:
        examples = [
            example_event(values, promotion)
            for promotion in (True, False)
            if values.get(EVENT_TYPES[0 if promotion else 1].name)
        ]
        return self.step_page(
            "loyalty.html",
            integration,
            self.step,
            status=400 if errors else 200,
            values=values,
            errors=errors,
            event_types=EVENT_TYPES,
            properties=PROPERTIES,
            gate=GATE,
            examples=examples,
        )

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        return self.render(integration, loyalty_values(integration), Errors())

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        settings = loyalty_input(form, errors)
        if not errors:
            await self.save(self.step, self.admin.update_integration(self.name, settings), errors)
        integration = await self.integration()
        values = {key: text(form, key) for key in loyalty_values(integration)}
        values[SEARCH_SHOWS_OFFERS] = "on" if checked(form, SEARCH_SHOWS_OFFERS) else ""
        return self.render(integration, values, errors)
