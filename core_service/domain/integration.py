"""An integration (tenant): one Sitoo account connected to one Bloomreach project."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from core_service.domain.errors import InvalidArgument
from core_service.domain.loyalty_config import LoyaltyConfig

NAME_PATTERN: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

# Sitoo customer fields that can be mapped to Bloomreach (spec: sitoo-crm-spi-v2.md §5.1).
MAPPABLE_SITOO_FIELDS: Final = frozenset(
    {
        "email",
        "mobile",
        "member_number",
        "name_first",
        "name_last",
        "gender",
        "store_id_home",
        "invoice_address.address",
        "invoice_address.address2",
        "invoice_address.city",
        "invoice_address.zip",
        "invoice_address.state",
        "invoice_address.country_id",
        "personal_id",
        "additional_options",
    }
)
# The hard ID must come from a field that identifies a person and that the POS can search by.
HARD_ID_SOURCE_FIELDS: Final = frozenset({"email", "mobile", "member_number", "personal_id"})
TARGET_PATTERN: Final = re.compile(r"^(properties|ids)\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
ID_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")
CHANNELS: Final = frozenset({"email", "sms", "mail", "phone"})

# What a new integration starts with: the product guide's examples (§4) and the common choice
# of e-mail as the hard ID.
DEFAULT_FIELD_MAPPINGS: Final = (
    ("email", "ids.email_id"),
    ("email", "properties.email"),
    ("mobile", "ids.phone_id"),
    ("mobile", "properties.phone"),
    ("name_first", "properties.first_name"),
    ("name_last", "properties.last_name"),
    ("member_number", "properties.member_number"),
    ("gender", "properties.gender"),
    ("invoice_address.address", "properties.address"),
    ("invoice_address.city", "properties.city"),
    ("invoice_address.zip", "properties.zip"),
    ("invoice_address.country_id", "properties.country"),
    ("store_id_home", "properties.home_store"),
    ("additional_options", "properties.sitoo_additional_options"),
)


@dataclass(frozen=True)
class FieldMapping:
    sitoo_field: str
    target: str

    @property
    def namespace(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.target.split(".", 1)[1]


@dataclass(frozen=True)
class ConsentType:
    consent_id: str
    category: str
    label: str = ""
    description: str = ""
    default_value: bool = False


@dataclass(frozen=True)
class EnrichmentRule:
    """A customer-card rule: a segmentation whose value equals ``segment`` sets the status,
    adds voucher passwords and optionally a section line; an aggregate (``aggregate_id``)
    shows its value as a section line titled ``value_title``."""

    segmentation_id: str
    segment: str
    status_color: str = ""
    status_text: str = ""
    voucher_passwords: tuple[str, ...] = ()
    section_title: str = ""
    aggregate_id: str = ""
    value_title: str = ""


@dataclass(frozen=True)
class BloomreachAccess:
    api_base_url: str
    project_token: str
    api_key_id: str
    api_secret: str | None


@dataclass(frozen=True)
class SitooAccess:
    account_id: int
    api_base_url: str
    api_id: str
    api_password: str | None
    site_id: int


@dataclass(frozen=True)
class Integration:
    """The decrypted configuration the services work with. Never serialised as is."""

    id: int
    name: str
    display_name: str
    company: str
    market: str
    enabled: bool
    bloomreach: BloomreachAccess
    sitoo: SitooAccess
    hard_id_name: str
    hard_id_source_field: str
    field_mappings: tuple[FieldMapping, ...]
    consent_types: tuple[ConsentType, ...]
    channel_categories: dict[str, str] = field(default_factory=dict)
    enrichment_rules: tuple[EnrichmentRule, ...] = ()
    loyalty: LoyaltyConfig = field(default_factory=LoyaltyConfig)
    spi_username: str = ""
    webhook_username: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    # Issue 15: riding out a Bloomreach outage. Cards answered from the card cache when
    # Bloomreach fails, creates/updates queued; each may be forbidden by the retailer.
    cached_reads: bool = True
    queued_writes: bool = True
    card_cache_max_cards: int = 100_000
    card_cache_ttl_seconds: int = 30 * 86400


def validate_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidArgument(
            "integration name must be 1-64 lower-case letters, digits or dashes, "
            "starting and ending with a letter or digit",
            field="name",
        )
    return name


def validate_market(market: str) -> str:
    if market and not re.fullmatch(r"[A-Z]{2}", market):
        raise InvalidArgument("market must be an ISO 3166-1 alpha-2 code like SE", field="market")
    return market


def validate_url(url: str, field_name: str) -> str:
    if url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url):
        raise InvalidArgument(f"{field_name} must be an http(s) URL", field=field_name)
    return url.rstrip("/")


def validate_field_mappings(mappings: list[FieldMapping]) -> tuple[FieldMapping, ...]:
    seen_targets: set[str] = set()
    for mapping in mappings:
        if mapping.sitoo_field not in MAPPABLE_SITOO_FIELDS:
            raise InvalidArgument(
                f"unknown Sitoo field {mapping.sitoo_field!r}; "
                f"one of {', '.join(sorted(MAPPABLE_SITOO_FIELDS))}",
                field="field_mappings",
            )
        if not TARGET_PATTERN.fullmatch(mapping.target):
            raise InvalidArgument(
                f"mapping target {mapping.target!r} must be properties.<name> or ids.<name>",
                field="field_mappings",
            )
        if mapping.sitoo_field == "additional_options" and mapping.namespace != "properties":
            raise InvalidArgument(
                "additional_options is a list of objects: map it to properties.<name>",
                field="field_mappings",
            )
        if mapping.target in seen_targets:
            raise InvalidArgument(
                f"two Sitoo fields map to {mapping.target!r}", field="field_mappings"
            )
        seen_targets.add(mapping.target)
    return tuple(mappings)


def validate_hard_id(name: str, source_field: str) -> None:
    if not ID_NAME_PATTERN.fullmatch(name):
        raise InvalidArgument("hard_id_name must be a Bloomreach ID name", field="hard_id_name")
    if source_field not in HARD_ID_SOURCE_FIELDS:
        raise InvalidArgument(
            f"hard_id_source_field must be one of {', '.join(sorted(HARD_ID_SOURCE_FIELDS))}",
            field="hard_id_source_field",
        )


def validate_consent_types(consents: list[ConsentType]) -> tuple[ConsentType, ...]:
    ids: set[str] = set()
    for consent in consents:
        if not consent.consent_id or not consent.category:
            raise InvalidArgument(
                "each consent type needs a consent_id and a Bloomreach category",
                field="consent_types",
            )
        if consent.consent_id in ids:
            raise InvalidArgument(
                f"consent id {consent.consent_id!r} appears twice", field="consent_types"
            )
        ids.add(consent.consent_id)
    return tuple(consents)


def validate_channel_categories(channels: dict[str, str]) -> dict[str, str]:
    for channel, category in channels.items():
        if channel not in CHANNELS:
            raise InvalidArgument(
                f"unknown communication channel {channel!r}; one of {', '.join(sorted(CHANNELS))}",
                field="channel_categories",
            )
        if not category:
            raise InvalidArgument(
                f"channel {channel!r} needs a consent category", field="channel_categories"
            )
    return dict(channels)


def validate_enrichment_rules(rules: list[EnrichmentRule]) -> tuple[EnrichmentRule, ...]:
    for rule in rules:
        if bool(rule.segmentation_id) == bool(rule.aggregate_id):
            raise InvalidArgument(
                "each enrichment rule names either a segmentation_id or an aggregate_id",
                field="enrichment_rules",
            )
        if rule.segmentation_id and not rule.segment:
            raise InvalidArgument(
                "a segmentation rule needs the segment that triggers it",
                field="enrichment_rules",
            )
    return tuple(rules)
