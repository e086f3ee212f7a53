"""The core's gRPC listener, its TLS, and how clients (edge, CLI, console) reach it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class CoreSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Core: gRPC listener, TLS, metrics"

    # Loopback by default: the core serves the edge, internal services and ops, never the
    # internet.
    core_listen: str = Field(
        default="127.0.0.1:50051",
        description="the core's gRPC listener (loopback unless TLS is set)",
    )
    core_target: str = Field(
        default="127.0.0.1:50051", description="where the edge and the CLI find the core"
    )
    core_tls_cert_file: Path | None = Field(
        default=None, description="the core's TLS certificate (PEM); set: the core serves TLS"
    )
    core_tls_key_file: Path | None = Field(
        default=None, description="the key of `SITOO_BR_CORE_TLS_CERT_FILE`"
    )
    core_tls_client_ca_file: Path | None = Field(
        default=None,
        description="set: the core requires client certificates signed by this CA (mTLS)",
    )
    core_tls_ca_file: Path | None = Field(
        default=None, description="client side: the CA that verifies the core's certificate"
    )
    client_tls_cert_file: Path | None = Field(
        default=None, description="client side: a client certificate for mTLS"
    )
    client_tls_key_file: Path | None = Field(
        default=None, description="the key of `SITOO_BR_CLIENT_TLS_CERT_FILE`"
    )
    core_tls_server_name: str | None = Field(
        default=None,
        description="client side: the name expected in the core's certificate, when it is "
        "not the host of `SITOO_BR_CORE_TARGET`",
    )
    core_metrics_listen: str = Field(
        default="127.0.0.1:9464",
        description="the core's Prometheus scrape endpoint (HTTP); empty to disable",
    )

    @property
    def core_tls_enabled(self) -> bool:
        return self.core_tls_cert_file is not None

    @property
    def client_tls_enabled(self) -> bool:
        return self.core_tls_ca_file is not None
