"""The customer as the core sees it, and the normalisation every ID value goes through.

Bloomreach hard IDs are case-sensitive and soft IDs are compared byte for byte, so a value is
normalised once, here, before it is used as an ID or compared with what Bloomreach holds:
e-mail trimmed and lower-cased, phone numbers in E.164 with the integration's market as the
default region (spec: bloomreach-engagement-api.md §2.2, sitoo-crm-spi-v2.md §5.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import phonenumbers

from core_service.domain.errors import InvalidArgument
from core_service.domain.loyalty import Offer

# Deliberately loose (RFC 5322 is not the point): one @, no spaces, a dot in the domain.
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_EMAIL_LENGTH: Final = 254


def canonical_email(value: str) -> str:
    """The one e-mail form used as an ID, by customers and orders alike (Bloomreach hard IDs
    are case-sensitive): trimmed and lower-cased. Not a validity check: an order's e-mail is
    whatever Sitoo recorded, and must still find the customer the CRM SPI created."""
    return value.strip().lower()


def normalise_email(value: str, field_name: str = "email") -> str:
    """``canonical_email`` of a value the POS writes, refused if it is not an e-mail address."""
    email = canonical_email(value)
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidArgument(f"{field_name} is not a valid e-mail address", field=field_name)
    return email


def normalise_phone(value: str, region: str, field_name: str = "mobile") -> str:
    """E.164; a number without a country code is read in ``region`` (the market)."""
    try:
        number = phonenumbers.parse(value.strip(), region or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidArgument(f"{field_name} is not a phone number", field=field_name) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise InvalidArgument(f"{field_name} is not a valid phone number", field=field_name)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_field(sitoo_field: str, value: str, region: str) -> str:
    """The canonical form of a Sitoo field value (only ID-like fields change)."""
    if sitoo_field == "email":
        return normalise_email(value)
    if sitoo_field == "mobile":
        return normalise_phone(value, region)
    if sitoo_field == "invoice_address.country_id":
        country = value.strip().upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise InvalidArgument(
                "invoice_address.country_id must be an ISO 3166-1 alpha-2 code",
                field="invoice_address.country_id",
            )
        return country
    return value.strip()


@dataclass(frozen=True)
class Origin:
    """Where a change came from: the URL-decoded Store-ID / Staff-ID / Register-ID headers."""

    store_id: str = ""
    staff_id: str = ""
    register_id: str = ""

    def describe(self) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("store", self.store_id),
                ("staff", self.staff_id),
                ("register", self.register_id),
            )
            if value
        ]
        return ", ".join(parts) or "unknown origin"


@dataclass(frozen=True)
class Section:
    title: str
    values: tuple[tuple[str, str], ...]  # (title, text) pairs, all of type "text"


@dataclass(frozen=True)
class CustomerStatus:
    color: str = ""
    text: str = ""


@dataclass(frozen=True)
class Enrichment:
    """What the customer card shows beyond the mapped fields (configured segmentations and
    aggregates)."""

    status: CustomerStatus = CustomerStatus()
    voucher_passwords: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Customer:
    """A customer read from Bloomreach, in Sitoo's terms.

    ``fields`` holds the scalar Sitoo fields (``email``, ``invoice_address.city``, ...).
    """

    customer_id: str
    fields: dict[str, str]
    accepts_communication: tuple[str, ...] = ()
    consents: tuple[str, ...] = ()
    additional_options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    enrichment: Enrichment = Enrichment()
    offers: tuple[Offer, ...] = ()  # promotions and bonus checks (domain/loyalty.py)


@dataclass
class CustomerInput:
    """What the POS writes. ``None`` = not sent (left unchanged on update)."""

    fields: dict[str, str] = field(default_factory=dict)
    accepts_communication: list[str] | None = None
    consents: list[str] | None = None
    additional_options: list[tuple[str, tuple[str, ...]]] | None = None


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    name: str
    quantity: str
    total_price: str


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    purchase_status: str
    timestamp: int
    total_price: str
    total_price_without_tax: str
    currency: str
    store_id: str
    store_name: str
    original_purchase_id: str
    items: tuple[PurchaseLine, ...]


def decimal_text(value: Any) -> str:
    """Money and quantities as the decimal strings the SPI uses ("" when absent)."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)
