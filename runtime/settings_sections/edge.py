"""The edge: Sitoo's HTTP side, its limits and its deadline for the core."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class EdgeSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Edge: HTTP listener and limits"

    edge_host: str = Field(default="127.0.0.1", description="the edge's HTTP listener address")
    edge_port: int = Field(default=8080, description="the edge's HTTP listener port")
    edge_max_body_bytes: int = Field(
        default=1_048_576, description="largest request body the edge accepts (413 beyond it)"
    )
    # Sitoo's POS gives up after 10 s, so stay well inside it.
    edge_core_deadline_seconds: float = Field(
        default=8.0,
        gt=0,
        le=9.5,
        description="the edge's deadline for the core; Sitoo's POS gives up at 10 s",
    )
    edge_public_url: str | None = Field(
        default=None,
        description="the edge as Sitoo reaches it (e.g. `https://sitoo.example.com`): the "
        "console shows the SPI URLs from it and validation checks that it answers (skipped "
        "when unset); unset: `http://EDGE_HOST:EDGE_PORT`",
    )
    # So one tenant's flood (or slow project) cannot take the edge and core from the others'
    # tills.
    edge_integration_max_in_flight: int = Field(
        default=256,
        ge=1,
        description="per edge and integration: customer requests in flight to the core; more "
        "get 503 + `Retry-After` at once",
    )

    @property
    def resolved_edge_public_url(self) -> str:
        if self.edge_public_url:
            return self.edge_public_url.rstrip("/")
        return f"http://{self.edge_host}:{self.edge_port}"
