"""The driver's defaults when it plays against the sandbox of `sitoo-bloomreach run`.

`run` writes the edge URL, the sandbox integration's freshly issued credentials, the Sitoo
emulator's account and the Bloomreach emulator's URL into ``DATA_DIR/sandbox/driver.json``
(mode 0600, beside the master key). The driver reads them only when no edge was named (no
``--edge-url`` and no ``SITOO_DRIVER_EDGE_URL``): then it is playing against that local run,
and nothing has to be typed, shown or logged."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER_DEFAULTS_FILE = Path("sandbox") / "driver.json"
# The same default as runtime.settings.Settings.data_dir, read the same way (the driver does
# not load the product's settings: it plays Sitoo, not the middleware).
DATA_DIR_ENV = "SITOO_BR_DATA_DIR"

_TEXT_FIELDS = (
    "edge_url",
    "integration",
    "spi_user",
    "spi_password",
    "webhook_user",
    "webhook_password",
    "sitoo_url",
    "sitoo_api_id",
    "sitoo_api_password",
    "bloomreach_url",
)


class LocalRunError(Exception):
    """The local run's defaults file exists but cannot be used."""


@dataclass(frozen=True)
class LocalRun:
    path: Path
    values: dict[str, Any]


def defaults_path(data_dir: Path | None = None) -> Path:
    base = data_dir if data_dir is not None else Path(os.environ.get(DATA_DIR_ENV) or "var")
    return base / DRIVER_DEFAULTS_FILE


def load_local_run(data_dir: Path | None = None) -> LocalRun | None:
    """The defaults `run` left, or None when there is no such file (no sandbox run here)."""
    path = defaults_path(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        # The message names the file, never its content (it holds passwords).
        raise LocalRunError(f"cannot read {path}: {type(exc).__name__}") from exc
    if not isinstance(raw, dict):
        raise LocalRunError(f"{path} is not a JSON object")
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise LocalRunError(f"{path}: {name} must be a string")
        values[name] = value
    account = raw.get("sitoo_account")
    if account is not None and (isinstance(account, bool) or not isinstance(account, int)):
        raise LocalRunError(f"{path}: sitoo_account must be an integer")
    values["sitoo_account"] = account
    return LocalRun(path, values)
