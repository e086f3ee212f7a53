"""What a Bloomreach call is made with, answers and fails with, as the services see it.

The HTTP client (``adapters/bloomreach.py``) raises these; the services decide what a failure
means (``transient``: trying again later can succeed) without importing the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BATCH_COMMANDS = 50
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class BloomreachProject:
    base_url: str
    project_token: str
    key_id: str
    secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"BloomreachProject({self.base_url!r}, {self.project_token!r}, {self.key_id!r})"


class BloomreachError(Exception):
    """A failed call. ``transient`` says whether trying again later can succeed."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None, request_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class BloomreachRateLimited(BloomreachError):
    transient = True

    def __init__(self, message: str, *, retry_after_s: float | None, request_id: str = "") -> None:
        super().__init__(message, status=429, request_id=request_id)
        self.retry_after_s = retry_after_s


class BloomreachUnavailable(BloomreachError):
    """5xx, a refused or dropped connection."""

    transient = True


class BloomreachTimeout(BloomreachError):
    transient = True


class BloomreachAuthFailed(BloomreachError):
    """401/403: the integration's key id, secret or project token is wrong or lacks rights."""


class BloomreachRejected(BloomreachError):
    """400 or a top-level ``success: false``: the request itself is wrong; do not retry it."""


@dataclass(frozen=True)
class AttributeResult:
    success: bool
    value: Any = None
    error: str = ""


@dataclass(frozen=True)
class CommandResult:
    success: bool
    command_id: str
    errors: tuple[str, ...] = ()
