"""Form fields of the setup steps: labels, defaults, and parsing with per-field messages.

The core validates everything again and has the last word; these checks only let the page
point at the field to fix before a round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Sitoo customer fields (spec: sitoo-crm-spi-v2.md §5.1), with labels for people.
SITOO_FIELDS: Final = (
    ("email", "E-mail"),
    ("mobile", "Mobile phone"),
    ("member_number", "Member number"),
    ("name_first", "First name"),
    ("name_last", "Last name"),
    ("gender", "Gender"),
    ("store_id_home", "Home store"),
    ("personal_id", "Personal ID"),
    ("invoice_address.address", "Address"),
    ("invoice_address.address2", "Address line 2"),
    ("invoice_address.city", "City"),
    ("invoice_address.zip", "Postal code"),
    ("invoice_address.state", "State"),
    ("invoice_address.country_id", "Country"),
    ("additional_options", "Additional options (a list: map to a property)"),
)
SITOO_FIELD_NAMES: Final = frozenset(name for name, _ in SITOO_FIELDS)
# Fields that identify a person and that the POS can search by.
HARD_ID_SOURCES: Final = (
    ("email", "E-mail (most common)"),
    ("mobile", "Mobile phone"),
    ("member_number", "Member number"),
    ("personal_id", "Personal ID"),
)
CHANNELS: Final = (
    ("email", "E-mail"),
    ("sms", "SMS"),
    ("mail", "Post"),
    ("phone", "Phone calls"),
)
NAME_PATTERN: Final = r"[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?"
MARKET_PATTERN: Final = r"[A-Za-z]{2}"
TARGET_PATTERN: Final = r"(properties|ids)\.[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}"
ID_NAME_PATTERN: Final = r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,99}"
URL_PATTERN: Final = r"https?://[^\s/]+(/[^\s]*)?"
EXTRA_MAPPING_ROWS: Final = 3

# A posted form (aiohttp's MultiDictProxy) or any mapping of field names to values.
Form = Mapping[str, object]


def text(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def checked(form: Form, name: str) -> bool:
    return text(form, name) in ("on", "true", "1", "yes")


@dataclass
class Errors:
    """Messages per field name, plus a form-level one (from the core)."""

    fields: dict[str, str] = field(default_factory=dict)
    form: str = ""

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


def require(errors: Errors, form: Form, name: str, label: str) -> str:
    value = text(form, name)
    if not value:
        errors.add(name, f"Enter the {label}.")
    return value


def match(errors: Errors, name: str, value: str, pattern: str, message: str) -> None:
    if value and not re.fullmatch(pattern, value):
        errors.add(name, message)


def integer(errors: Errors, form: Form, name: str, label: str) -> int | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        errors.add(name, f"The {label} must be a whole number.")
        return None


@dataclass(frozen=True)
class MappingRow:
    sitoo_field: str
    target: str


def mapping_rows(form: Form, errors: Errors) -> list[MappingRow]:
    """Rows ``sitoo_field_N`` / ``target_N`` in order; rows with an empty target are dropped.

    Error keys name the row's position in the returned list, as the page renders it again.
    """
    indexes = sorted(
        int(key.removeprefix("target_"))
        for key in form
        if key.startswith("target_") and key.removeprefix("target_").isdigit()
    )
    rows: list[MappingRow] = []
    seen: set[str] = set()
    for index in indexes:
        source, target = text(form, f"sitoo_field_{index}"), text(form, f"target_{index}")
        if not target:
            continue
        position = len(rows)
        if source not in SITOO_FIELD_NAMES:
            errors.add(f"sitoo_field_{position}", "Choose the Sitoo field for this row.")
        if not re.fullmatch(TARGET_PATTERN, target):
            errors.add(
                f"target_{position}",
                "Write properties.<name> or ids.<name>, e.g. properties.first_name.",
            )
        elif target in seen:
            errors.add(f"target_{position}", f"{target} is already mapped in another row.")
        seen.add(target)
        rows.append(MappingRow(source, target))
    return rows
