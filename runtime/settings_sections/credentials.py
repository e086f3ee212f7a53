"""Who may call the core (service, admin and API client tokens), the master key that seals
stored secrets, and how long a core trusts its copies of credentials."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from runtime.settings_sections.section import Section


class CredentialSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Tokens, API clients, keys and credential caches"

    service_token: SecretStr | None = Field(
        default=None,
        description="what the edge presents to the core (API client `edge`); `run` makes one",
    )
    service_token_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_SERVICE_TOKEN`"
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="what the CLI and the console present to the core's AdminService "
        "(API client `admin`); `run` makes one",
    )
    admin_token_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_ADMIN_TOKEN`"
    )
    # Named API clients (`sitoo-bloomreach client …`) sit beside the built-in `edge` and
    # `admin`; the grace lets callers switch to a rotated token without downtime.
    api_client_rotation_grace_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="after `client rotate`, how long the previous token of an API client "
        "keeps working (`client revoke-old` ends it sooner)",
    )
    # Each core authenticates from an in-memory copy of the client table.
    api_client_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often a core re-reads the API client table (a client changed "
        "through another core replica takes effect within this)",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="32 random bytes, base64; seals stored secrets (`run` makes `var/master.key`)",
    )
    master_key_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_MASTER_KEY`"
    )
    # Kept until `sitoo-bloomreach rekey` reports nothing left sealed under them.
    master_key_previous: SecretStr | None = Field(
        default=None,
        description="during a key rotation: the old key(s), comma-separated, until `rekey` "
        "is done (docs/operations.md)",
    )
    master_key_previous_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_MASTER_KEY_PREVIOUS`"
    )
    # Issue 11: reading all integrations' verifiers in one query means a made-up integration
    # name never reaches the database per request and costs what a wrong password costs (no
    # timing oracle for tenant names).
    sitoo_credential_cache_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="how long the core trusts its copy of all integrations' Sitoo credential "
        "verifiers; also how long another core replica may still accept a rotated credential "
        "or a disabled integration, or refuse a just-created one",
    )
