"""Where a process keeps its data, which database it uses, how it logs, shuts down and
allocates memory."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from runtime.settings_sections.section import Section


class ProcessSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Process: data, database, logging, shutdown, memory"

    data_dir: Path = Field(
        default=Path("var"),
        description="where `run` keeps the SQLite database and the keys it makes",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL (`postgresql+asyncpg://…` in production); "
        "unset: SQLite in `SITOO_BR_DATA_DIR`",
    )
    log_level: str = Field(
        default="INFO",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL; JSON logs on stderr, "
        "e-mails and phone numbers masked",
    )
    database_startup_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="a core, relay, `migrate` or `rekey` started while the database is "
        "unreachable retries (with backoff, logging why) this long, then exits 78 naming this "
        "setting; `0` = one try",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        description="on SIGTERM, how long a process lets requests and work in flight finish",
    )
    malloc_arena_max: int = Field(
        default=2,
        ge=0,
        description="glibc malloc arenas a serving process (`core`, `edge`, `relay`, `run`, "
        "`console`) may use, set at its start; fewer arenas hold less memory freed by the "
        "gRPC and SQLite threads; `0` = glibc's default (8 per core, or `MALLOC_ARENA_MAX`)",
    )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sitoo-bloomreach.db').resolve()}"
