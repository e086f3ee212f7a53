"""The operators' web console."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from runtime.settings_sections.section import Section


class ConsoleSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Console"

    # The console is ops-facing, hence loopback by default.
    console_host: str = Field(
        default="127.0.0.1",
        description="the console's listener address; off loopback it requires HTTPS "
        "(`SITOO_BR_CONSOLE_SECURE_COOKIES=true`)",
    )
    console_port: int = Field(default=8090, description="the console's listener port")
    console_secure_cookies: bool = Field(
        default=False,
        description="marks the session cookie Secure; set when the console is served over HTTPS",
    )
    # The default (a new key per process) signs everyone out on restart.
    console_session_key: SecretStr | None = Field(
        default=None,
        description="seals the console's session cookies (32+ characters); unset: a new key "
        "per process",
    )
    console_session_key_file: Path | None = Field(
        default=None, description="a file holding `SITOO_BR_CONSOLE_SESSION_KEY`"
    )
    console_session_max_age_seconds: int = Field(
        default=8 * 3600, gt=0, description="console sign-in lifetime"
    )
    console_core_deadline_seconds: float = Field(
        default=15.0, description="the console's deadline for a call to the core"
    )
