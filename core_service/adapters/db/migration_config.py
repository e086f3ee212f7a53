"""Alembic's configuration for this project's revisions: for `migrate` and the tests only
(the serving processes check the revision without Alembic: schema_version.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

import migrations


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
