"""Process settings: one object, read from ``SITOO_BR_*`` environment variables and an
optional TOML file named by ``SITOO_BR_SETTINGS_FILE``. Tenant configuration lives in the
database, never here.

The settings themselves live in sections (``runtime/settings_sections/``, one module per part
of the product); :class:`Settings` inherits them all, so each keeps its flat name
(``settings.relay_batch_size``, ``SITOO_BR_RELAY_BATCH_SIZE``). A new setting goes into its
section's module, with ``Field(description=…)``; then ``make settings-doc``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from runtime.settings_sections import (
    BackfillSettings,
    ConsoleSettings,
    CoreSettings,
    CredentialSettings,
    CustomerPathSettings,
    EdgeSettings,
    IngestSettings,
    ProcessSettings,
    RelaySettings,
    RetentionSettings,
    SandboxSettings,
)
from runtime.settings_sections.relay import DEFAULT_RETRY_SCHEDULE

ENV_PREFIX = "SITOO_BR_"

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "ENV_PREFIX",
    "ConfigurationError",
    "Settings",
    "load_settings",
    "read_secret",
]


# The sections in reverse: pydantic lists inherited fields from the last base to the first,
# so `Settings.model_fields` follows `runtime.settings_sections.SECTIONS`.
class Settings(
    BaseSettings,
    RetentionSettings,
    BackfillSettings,
    RelaySettings,
    CustomerPathSettings,
    IngestSettings,
    SandboxSettings,
    ConsoleSettings,
    EdgeSettings,
    CredentialSettings,
    CoreSettings,
    ProcessSettings,
):
    """Every field's ``description`` is its user documentation: the README's settings table is
    generated from it (``make settings-doc``); comments keep only the reasons why. Checks that
    span sections live here; a section's own checks live with it."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    @model_validator(mode="after")
    def _retention_covers_reconcile(self) -> Settings:
        if self.retention_finished_days * 24 <= self.reconcile_window_hours:
            raise ValueError(
                f"retention_finished_days ({self.retention_finished_days}) must cover "
                f"reconcile_window_hours ({self.reconcile_window_hours:g} h): reconcile would "
                "re-enqueue the skipped orders whose messages were purged"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get(ENV_PREFIX + "SETTINGS_FILE")
        if settings_file:
            if not Path(settings_file).is_file():
                raise ValueError(f"{ENV_PREFIX}SETTINGS_FILE={settings_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=settings_file))
        return tuple(sources)


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def read_secret(value: SecretStr | None, file: Path | None, name: str) -> str:
    """A secret given directly or in a file (the file wins no ties: giving both is an error)."""
    if value is not None and file is not None:
        raise ConfigurationError(f"set either {ENV_PREFIX}{name} or {ENV_PREFIX}{name}_FILE")
    if value is not None:
        secret = value.get_secret_value().strip()
    elif file is not None:
        try:
            secret = file.read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"{ENV_PREFIX}{name}_FILE={file} cannot be read: {exc.strerror}"
            ) from exc
    else:
        raise ConfigurationError(f"{ENV_PREFIX}{name} or {ENV_PREFIX}{name}_FILE must be set")
    if not secret:
        raise ConfigurationError(f"{ENV_PREFIX}{name} is empty")
    return secret


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
