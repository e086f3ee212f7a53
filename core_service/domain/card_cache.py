"""The card cache's rules (issue 15): which Bloomreach failures the till rides out on the
cached card, which search keys a card is found by, and the card's stored form.

Pure: no I/O, no keys. The adapter (``adapters/db/card_cache_repo.py``) digests the keys and
seals the card; the read-through service (``services/card_cache.py``) decides when to ask it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from core_service.domain.customer import (
    Customer,
    CustomerStatus,
    Enrichment,
    Section,
    normalise_field,
)
from core_service.domain.errors import (
    InvalidArgument,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from core_service.domain.integration import Integration

DEFAULT_MAX_CARDS: Final = 100_000
DEFAULT_TTL_SECONDS: Final = 30 * 86400
MAX_MAX_CARDS: Final = 10_000_000
MIN_TTL_SECONDS: Final = 60
MAX_TTL_SECONDS: Final = 366 * 86400

CUSTOMER_ID: Final = "customer_id"
# The search keys a cached card is found by (besides its customer_id): the Sitoo fields the
# POS searches with that identify a person.
INDEXED_FIELDS: Final = ("email", "mobile", "member_number")
KEY_TYPES: Final = (CUSTOMER_ID, *INDEXED_FIELDS)


def falls_back(error: BaseException) -> bool:
    """True when a failed Bloomreach read may be answered from the cache: Bloomreach down or
    failing (5xx, connection errors, the breaker open), slow (a timeout, or too little of the
    caller's deadline left to ask it) or rate limiting us (429). Not when it refused the
    request (400) or our credentials (401/403): those are ours to fix, and a cached card would
    hide them. ``Overloaded`` (shed for lack of time) is an ``UpstreamUnavailable``."""
    return isinstance(error, UpstreamUnavailable | UpstreamTimeout | UpstreamRateLimited)


def normalised_key(integration: Integration, key_type: str, key: str) -> str | None:
    """The canonical form a search key is indexed under, or None when it is not one (a key
    that does not normalise cannot have been indexed either)."""
    if key_type not in KEY_TYPES:
        return None
    field = integration.hard_id_source_field if key_type == CUSTOMER_ID else key_type
    try:
        value = normalise_field(field, key, integration.market)
    except InvalidArgument:
        return None
    return value or None


def index_keys(integration: Integration, card: Customer) -> tuple[tuple[str, str], ...]:
    """(key_type, normalised key) pairs a card is found by: its customer_id and the indexed
    fields it carries."""
    pairs: list[tuple[str, str]] = []
    if card.customer_id:
        value = normalised_key(integration, CUSTOMER_ID, card.customer_id)
        if value is not None:
            pairs.append((CUSTOMER_ID, value))
    for field in INDEXED_FIELDS:
        raw = card.fields.get(field, "")
        value = normalised_key(integration, field, raw) if raw else None
        if value is not None:
            pairs.append((field, value))
    return tuple(pairs)


@dataclass(frozen=True)
class CachedCard:
    card: Customer
    stored_at: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)


@dataclass(frozen=True)
class CacheStats:
    """One integration's cache: live cards, expired ones awaiting the purge, and the age
    range (0 when empty)."""

    integration: str
    cards: int
    expired: int
    oldest_stored_at: float
    newest_stored_at: float
    max_cards: int
    ttl_seconds: int
    enabled: bool


def card_to_json(card: Customer) -> str:
    data: dict[str, Any] = {
        "customer_id": card.customer_id,
        "fields": card.fields,
        "accepts_communication": list(card.accepts_communication),
        "consents": list(card.consents),
        "additional_options": [[k, list(v)] for k, v in card.additional_options],
        "status": [card.enrichment.status.color, card.enrichment.status.text],
        "voucher_passwords": list(card.enrichment.voucher_passwords),
        "sections": [[s.title, [[t, v] for t, v in s.values]] for s in card.enrichment.sections],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def card_from_json(text: str) -> Customer:
    data = json.loads(text)
    color, status_text = data["status"]
    return Customer(
        customer_id=data["customer_id"],
        fields={str(k): str(v) for k, v in data["fields"].items()},
        accepts_communication=tuple(data["accepts_communication"]),
        consents=tuple(data["consents"]),
        additional_options=tuple((k, tuple(v)) for k, v in data["additional_options"]),
        enrichment=Enrichment(
            status=CustomerStatus(color, status_text),
            voucher_passwords=tuple(data["voucher_passwords"]),
            sections=tuple(
                Section(title, tuple((t, v) for t, v in values))
                for title, values in data["sections"]
            ),
        ),
    )


def validate_cache_settings(max_cards: int | None, ttl_seconds: int | None) -> None:
    if max_cards is not None and not 1 <= max_cards <= MAX_MAX_CARDS:
        raise InvalidArgument(
            f"card_cache_max_cards must be between 1 and {MAX_MAX_CARDS}",
            field="card_cache_max_cards",
        )
    if ttl_seconds is not None and not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidArgument(
            f"card_cache_ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}",
            field="card_cache_ttl_seconds",
        )
