"""`run`'s embedded sandbox: the emulators that stand in for Sitoo and Bloomreach."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class SandboxSettings(Section):
    SECTION_TITLE: ClassVar[str] = "`run` and its sandbox"

    # The embedded default, for trying the product without a real Sitoo or Bloomreach.
    run_sandbox: bool = Field(
        default=True,
        description="`run` only: start the sandbox emulators and a ready integration on them",
    )
    sandbox_bloomreach_port: int = Field(
        default=9300, description="`run` only: the Bloomreach emulator's port"
    )
    sandbox_sitoo_port: int = Field(
        default=9400, description="`run` only: the Sitoo emulator's port"
    )
