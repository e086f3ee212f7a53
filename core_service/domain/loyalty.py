"""Loyalty offers (issue 14): promotions and bonus checks a marketer gives a customer in
Bloomreach, shown on the customer card and redeemed at the till.

An offer is a customer event (typically tracked by a Bloomreach scenario) whose type and
property names the integration configures. The card reads them with one events export and
marks what the redemption ledger holds as redeemed. Pure rules, no I/O (the configuration is
:mod:`core_service.domain.loyalty_config`): parsing and expiry, the checks a redeem or undo
must pass, the retry fingerprint and the deterministic Bloomreach events a ledger change
becomes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, Literal

from core_service.domain.errors import InvalidArgument
from core_service.domain.loyalty_config import PROMOTION, Kind, LoyaltyConfig

if TYPE_CHECKING:
    from core_service.domain.customer import Origin

Action = Literal["redeem", "undo"]

# Offer events one card reads, newest first (one export call, whatever the number of offers).
MAX_OFFER_EVENTS: Final = 100
# A POS retry: the same call from the same register, again within this many seconds, answers
# as the first did and changes nothing (edge/spi_contract.py, LOYALTY_RETRY_WINDOW_SECONDS).
RETRY_WINDOW_SECONDS: Final = 120.0
# Event types of the ledger's changes in Bloomreach: sitoo_<kind>_redeemed / _undone.
EVENT_SUFFIX: Final = {"redeem": "redeemed", "undo": "undone"}
MAX_ITEMS: Final = 50
MAX_ID_LENGTH: Final = 200
# A time number this large is milliseconds (1e11 seconds is the year 5138).
_MILLISECONDS_FROM: Final = 1e11


@dataclass(frozen=True)
class Offer:
    """A promotion or bonus check as the card shows it (Sitoo's shapes, spec §6.2)."""

    kind: Kind
    offer_id: str
    name: str = ""
    offer_type: str = ""  # promotions: cart_percent, cart_amount, ... (passed through)
    value: str = ""  # decimal string
    amount: str = ""  # bonus checks: money, decimal string
    currency: str = ""
    description: str = ""
    valid_until: float | None = None
    redeemed: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.offer_id)

    @property
    def value_int(self) -> int:
        """Sitoo's ``promotion_type.value_int``: the value when it is whole, else 0."""
        try:
            number = Decimal(self.value)
        except InvalidOperation:
            return 0
        return int(number) if number == number.to_integral_value() else 0

    @property
    def money(self) -> str:
        """A bonus check's value: its amount, or its value when no amount is given."""
        return self.amount or self.value


@dataclass(frozen=True)
class OfferSet:
    """What one export yielded: the offers still valid, and the ids of expired ones (so that
    redeeming one says "expired" rather than "unknown")."""

    offers: tuple[Offer, ...] = ()
    expired: frozenset[tuple[str, str]] = frozenset()

    def by_key(self) -> dict[tuple[str, str], Offer]:
        return {offer.key: offer for offer in self.offers}


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, float):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value).strip()


def _decimal(value: Any) -> str:
    text = _text(value)
    try:
        return format(Decimal(text), "f") if text else ""
    except InvalidOperation:
        return ""


def parse_time(value: Any) -> float | None:
    """Unix seconds (number or digits; milliseconds if implausibly large) or ISO 8601; None
    when absent or unreadable (an unreadable end date is no end date: the marketer sees the
    offer on the card and can fix the scenario)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:  # a date without a zone is read as UTC
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    return seconds / 1000 if seconds > _MILLISECONDS_FROM else seconds


def offers_from_events(
    events: Iterable[Mapping[str, Any]], config: LoyaltyConfig, now: float
) -> OfferSet:
    """The newest event per offer wins (the export is newest first); expired offers are left
    out and named in ``expired``; events without an id are ignored."""
    seen: set[tuple[str, str]] = set()
    offers: list[Offer] = []
    expired: set[tuple[str, str]] = set()
    for event in events:
        kind = config.kind_of(str(event.get("type", "")))
        props = event.get("properties")
        if kind is None or not isinstance(props, Mapping):
            continue
        offer_id = _text(props.get(config.id_property))[:MAX_ID_LENGTH]
        if not offer_id or (kind, offer_id) in seen:
            continue
        seen.add((kind, offer_id))
        valid_until = parse_time(props.get(config.valid_until_property))
        if valid_until is not None and valid_until <= now:
            expired.add((kind, offer_id))
            continue
        offers.append(
            Offer(
                kind=kind,
                offer_id=offer_id,
                name=_text(props.get(config.name_property)),
                offer_type=_text(props.get(config.type_property)),
                value=_decimal(props.get(config.value_property)),
                amount=_decimal(props.get(config.amount_property)),
                currency=_text(props.get(config.currency_property)).upper(),
                description=_text(props.get("description")),
                valid_until=valid_until,
            )
        )
    return OfferSet(tuple(offers), frozenset(expired))


def with_ledger(offers: OfferSet, redeemed: frozenset[tuple[str, str]]) -> tuple[Offer, ...]:
    return tuple(replace(o, redeemed=o.key in redeemed) for o in offers.offers)


# ---- redeem and undo ---------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: Kind
    item_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.item_id)

    def label(self) -> str:
        return f"{self.kind}_id {self.item_id!r}"


def checked_items(items: Sequence[Item]) -> tuple[Item, ...]:
    """The call's items, sorted (so that two calls lock ledger rows in one order)."""
    if not items:
        raise InvalidArgument("items: at least one promotion_id or bonus_check_id", "items")
    if len(items) > MAX_ITEMS:
        raise InvalidArgument(f"items: at most {MAX_ITEMS}", "items")
    for item in items:
        if not item.item_id.strip() or len(item.item_id) > MAX_ID_LENGTH:
            raise InvalidArgument(f"items: {item.kind}_id must be 1-{MAX_ID_LENGTH} characters")
    if len({i.key for i in items}) != len(items):
        raise InvalidArgument("items: an item is named twice", "items")
    return tuple(sorted(items, key=lambda i: i.key))


def check_offered(items: Sequence[Item], offers: OfferSet) -> None:
    """A redeem names only offers the customer has and that have not expired."""
    known = offers.by_key()
    for item in items:
        if item.key in offers.expired:
            raise InvalidArgument(f"{item.label()} has expired", "items")
        if item.key not in known:
            raise InvalidArgument(f"{item.label()} is not an offer of this customer", "items")


def refused(item: Item, action: Action) -> InvalidArgument:
    why = "is already redeemed" if action == "redeem" else "is not redeemed"
    return InvalidArgument(f"{item.label()} {why}", "items")


def call_fingerprint(action: Action, items: Sequence[Item], origin: Origin) -> str:
    """Identifies a call for the retry rule: what it does, to which items, from which till.
    Without a register id there is no till to tell a retry from another till's press."""
    if not origin.register_id:
        return ""
    body = json.dumps(
        [action, sorted(i.key for i in items), origin.store_id, origin.register_id],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class LedgerChange:
    """One item's row after a redeem or undo: its new ``version`` and when it changed."""

    item: Item
    version: int
    changed_at: float


@dataclass(frozen=True)
class Redemption:
    """What a redeem or undo asks of the ledger (its rows and its outbox commands commit or
    roll back together)."""

    integration_id: int
    customer_id: str  # the hard-ID value (the ledger stores only a keyed digest of it)
    action: Action
    items: tuple[Item, ...]
    fingerprint: str
    now: float
    retry_window_s: float = RETRY_WINDOW_SECONDS


@dataclass(frozen=True)
class EventContext:
    """What the Bloomreach events of a change name besides the item."""

    hard_id_name: str
    customer_key: str  # the ledger's digest: command ids never carry the customer id
    origin: Origin
    offers: Mapping[tuple[str, str], Offer] = field(default_factory=dict)


def command_id(customer_key: str, change: LedgerChange, action: Action) -> str:
    """Deterministic: the same ledger change is always the same command (a resend after a
    crash is a duplicate Bloomreach stores once); each redeem or undo of an item is a new
    version, so a redeem after an undo is a new event."""
    item = change.item
    return f"loyalty:{customer_key[:32]}:{item.kind}:{item.item_id}:{change.version}:{action}"


def ledger_events(
    context: EventContext,
    customer_id: str,
    changes: Sequence[LedgerChange],
    action: Action,
) -> list[dict[str, Any]]:
    """The ``customers/events`` batch commands of ledger changes (``sitoo_promotion_redeemed``
    and so on), naming the till that made them."""
    commands: list[dict[str, Any]] = []
    origin = context.origin
    for change in changes:
        item = change.item
        offer = context.offers.get(item.key)
        props: dict[str, Any] = {
            f"{item.kind}_id": item.item_id,
            "action": action,
            "store_id": origin.store_id,
            "staff_id": origin.staff_id,
            "register_id": origin.register_id,
            "ledger_version": change.version,
        }
        if offer is not None:
            props["name"] = offer.name
            if item.kind == PROMOTION:
                props["type"] = offer.offer_type
                props["value"] = offer.value
            else:
                props["amount"] = offer.money
            props["currency"] = offer.currency
        commands.append(
            {
                "name": "customers/events",
                "command_id": command_id(context.customer_key, change, action),
                "data": {
                    "customer_ids": {context.hard_id_name: customer_id},
                    "event_type": f"sitoo_{item.kind}_{EVENT_SUFFIX[action]}",
                    "timestamp": change.changed_at,
                    "properties": {k: v for k, v in props.items() if v not in ("", None)},
                },
            }
        )
    return commands
