"""The embedded default: secrets that `run` makes for itself in the data directory, so that
one command works on a fresh machine. Production sets them explicitly instead."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core_service.crypto import MasterKey
from runtime.settings import Settings

MASTER_KEY_FILE = "master.key"
SERVICE_TOKEN_FILE = "service.token"  # noqa: S105 - a file name
ADMIN_TOKEN_FILE = "admin.token"  # noqa: S105 - a file name


def _ensure_file(path: Path, make: str) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make + "\n")
    return path


def with_local_secrets(settings: Settings) -> Settings:
    """Fill unset secrets from files under data_dir, creating them (mode 0600) if missing."""
    data = settings.data_dir
    updates: dict[str, Path] = {}
    if settings.master_key is None and settings.master_key_file is None:
        updates["master_key_file"] = _ensure_file(data / MASTER_KEY_FILE, MasterKey.generate())
    if settings.service_token is None and settings.service_token_file is None:
        updates["service_token_file"] = _ensure_file(
            data / SERVICE_TOKEN_FILE, secrets.token_urlsafe(32)
        )
    if settings.admin_token is None and settings.admin_token_file is None:
        updates["admin_token_file"] = _ensure_file(
            data / ADMIN_TOKEN_FILE, secrets.token_urlsafe(32)
        )
    return settings.model_copy(update=updates)


def with_existing_local_admin_token(settings: Settings) -> Settings:
    """For CLI admin commands: fall back to the token `run` made, if there is one."""
    if settings.admin_token is not None or settings.admin_token_file is not None:
        return settings
    local = settings.data_dir / ADMIN_TOKEN_FILE
    if local.exists():
        return settings.model_copy(update={"admin_token_file": local})
    return settings
