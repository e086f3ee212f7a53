from __future__ import annotations

from console.forms import HARD_ID_SOURCES, SITOO_FIELD_NAMES
from core_service.domain.integration import HARD_ID_SOURCE_FIELDS, MAPPABLE_SITOO_FIELDS


def test_console_offers_exactly_the_fields_the_core_accepts() -> None:
    # The console keeps its own labelled copy (it must not import the core); this keeps the
    # copy honest.
    assert SITOO_FIELD_NAMES == MAPPABLE_SITOO_FIELDS
    assert {name for name, _ in HARD_ID_SOURCES} == HARD_ID_SOURCE_FIELDS
