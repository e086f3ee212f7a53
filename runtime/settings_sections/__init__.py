"""The sections of :class:`runtime.settings.Settings`, one module per part of the product.

Each section is a pydantic model whose fields (with their ``Field(description=…)``, the
README's documentation) and validators ``Settings`` inherits, so every setting keeps its flat
name (``settings.relay_batch_size``, ``SITOO_BR_RELAY_BATCH_SIZE``). :data:`SECTIONS` is the
order of the README's settings table; ``SECTION_TITLE`` its heading.
"""

from __future__ import annotations

from runtime.settings_sections.backfill import BackfillSettings
from runtime.settings_sections.console import ConsoleSettings
from runtime.settings_sections.core import CoreSettings
from runtime.settings_sections.credentials import CredentialSettings
from runtime.settings_sections.customer_path import CustomerPathSettings
from runtime.settings_sections.edge import EdgeSettings
from runtime.settings_sections.ingest import IngestSettings
from runtime.settings_sections.process import ProcessSettings
from runtime.settings_sections.relay import RelaySettings
from runtime.settings_sections.retention import RetentionSettings
from runtime.settings_sections.sandbox import SandboxSettings
from runtime.settings_sections.section import Section

SECTIONS: tuple[type[Section], ...] = (
    ProcessSettings,
    CoreSettings,
    CredentialSettings,
    EdgeSettings,
    ConsoleSettings,
    SandboxSettings,
    IngestSettings,
    CustomerPathSettings,
    RelaySettings,
    BackfillSettings,
    RetentionSettings,
)

__all__ = [
    "SECTIONS",
    "BackfillSettings",
    "ConsoleSettings",
    "CoreSettings",
    "CredentialSettings",
    "CustomerPathSettings",
    "EdgeSettings",
    "IngestSettings",
    "ProcessSettings",
    "RelaySettings",
    "RetentionSettings",
    "SandboxSettings",
    "Section",
]
