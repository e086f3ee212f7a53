"""Loyalty's configuration (issue 14): which customer events carry offers, which of their
properties hold what, and the optional offer-count gate that lets a card of a customer without
offers skip the offers export. Pure: validation and the gate's rule, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal

from core_service.domain.errors import InvalidArgument

Kind = Literal["promotion", "bonus_check"]
PROMOTION: Final = "promotion"
BONUS_CHECK: Final = "bonus_check"
KINDS: Final = (PROMOTION, BONUS_CHECK)
_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class LoyaltyConfig:
    """Which customer events carry offers and which of their properties hold what. An empty
    event type turns that kind of offer off; with both off a card costs no extra call."""

    promotion_event_type: str = "sitoo_promotion"
    bonus_check_event_type: str = "sitoo_bonus_check"
    id_property: str = "id"
    name_property: str = "name"
    type_property: str = "type"
    value_property: str = "value"
    amount_property: str = "amount"
    currency_property: str = "currency"
    valid_until_property: str = "valid_until"
    search_shows_offers: bool = False
    # The offer-count gate (optional): Bloomreach aggregates counting each kind's offer events.
    # With one for every kind that is on, the card reads them with its attributes and makes
    # the events export only when a count says there may be offers (``needs_export``).
    promotion_count_aggregate_id: str = ""
    bonus_check_count_aggregate_id: str = ""

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(t for t in (self.promotion_event_type, self.bonus_check_event_type) if t)

    @property
    def enabled(self) -> bool:
        return bool(self.event_types)

    @property
    def gate_aggregates(self) -> tuple[str, ...]:
        """The aggregate ids the card reads instead of always exporting: one per kind that is
        on, or none (no gate) while a kind that is on has no aggregate."""
        pairs = (
            (self.promotion_event_type, self.promotion_count_aggregate_id),
            (self.bonus_check_event_type, self.bonus_check_count_aggregate_id),
        )
        wanted = [aggregate for event_type, aggregate in pairs if event_type]
        if not wanted or not all(wanted):
            return ()
        return tuple(dict.fromkeys(wanted))

    def kind_of(self, event_type: str) -> Kind | None:
        if event_type and event_type == self.promotion_event_type:
            return "promotion"
        if event_type and event_type == self.bonus_check_event_type:
            return "bonus_check"
        return None

    def to_json(self) -> dict[str, Any]:
        """Only what differs from the defaults is stored (new defaults reach old rows)."""
        default = LoyaltyConfig()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> LoyaltyConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def configure(current: LoyaltyConfig, changes: Mapping[str, object]) -> LoyaltyConfig:
    """``current`` with ``changes`` (field name -> value), validated."""
    updated = replace(current, **changes)  # type: ignore[arg-type]  # names checked below
    for f in fields(updated):
        value = getattr(updated, f.name)
        if f.name == "search_shows_offers":
            continue
        if f.name.endswith("_aggregate_id"):
            if value and not _NAME.fullmatch(value):
                raise InvalidArgument(
                    f"loyalty {f.name} must be a Bloomreach aggregate id (or empty: no gate)",
                    field=f"loyalty_{f.name}",
                )
        elif f.name.endswith("_event_type"):
            if value and not _NAME.fullmatch(value):
                raise InvalidArgument(
                    f"loyalty {f.name} must be a Bloomreach event type name (or empty: off)",
                    field=f"loyalty_{f.name}",
                )
        elif not _NAME.fullmatch(value):
            raise InvalidArgument(
                f"loyalty {f.name} must be an event property name", field=f"loyalty_{f.name}"
            )
    if updated.promotion_event_type and (
        updated.promotion_event_type == updated.bonus_check_event_type
    ):
        raise InvalidArgument(
            "promotions and bonus checks need different event types",
            field="loyalty_bonus_check_event_type",
        )
    return updated


def needs_export(counts: Iterable[Any]) -> bool:
    """The gate's rule: the offer events are exported unless every count read is a number and
    none is above zero. An unreadable count (no permission, unknown aggregate: read as None),
    or one that is not a number, exports: the gate may save a call, never hide an offer. No
    counts at all is no gate: export."""
    read = False
    for count in counts:
        if isinstance(count, bool) or not isinstance(count, int | float):
            return True
        if not count <= 0:  # NaN is not "no offers" either
            return True
        read = True
    return not read
