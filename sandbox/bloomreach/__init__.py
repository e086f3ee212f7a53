"""A faithful local emulator of the Bloomreach Engagement REST API (tracking, customer, GDPR
and consent endpoints), with sandbox-only inspection endpoints under ``/_sandbox/``."""

from sandbox.bloomreach.app import ROUTE_NAMES, create_app
from sandbox.bloomreach.config import (
    ApiKey,
    BloomreachConfig,
    ConsentCategory,
    Grant,
    Limits,
    Permissions,
    ProjectConfig,
)
from sandbox.bloomreach.state import STATE, EmulatorState

__all__ = [
    "ROUTE_NAMES",
    "STATE",
    "ApiKey",
    "BloomreachConfig",
    "ConsentCategory",
    "EmulatorState",
    "Grant",
    "Limits",
    "Permissions",
    "ProjectConfig",
    "create_app",
]
