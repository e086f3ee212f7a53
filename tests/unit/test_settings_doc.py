"""The README's settings tables are generated from ``runtime.settings.Settings``: they must be
current, every setting must carry the description they show, and every setting belongs to
exactly one section (``runtime/settings_sections/``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from runtime.settings import ENV_PREFIX, Settings
from runtime.settings_sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_settings_table", ROOT / "scripts" / "gen_settings_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_has_a_description() -> None:
    undocumented = [name for name, info in Settings.model_fields.items() if not info.description]
    assert not undocumented, f"add Field(description=...) to: {', '.join(undocumented)}"


def test_readme_settings_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_settings_table.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_setting_appears_in_the_readme_once() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        row = f"| `{ENV_PREFIX}{name.upper()}` |"
        assert readme.count(row) == 1, f"{row} should be in README.md's settings table once"


def test_the_check_notices_a_stale_table() -> None:
    generator = _generator()
    readme = (ROOT / "README.md").read_text()
    first_row = f"| `{ENV_PREFIX}{next(iter(Settings.model_fields)).upper()}` |"
    stale = readme.replace(first_row, "| `SITOO_BR_GONE` |", 1)
    assert stale != readme
    assert generator.render(stale) == readme
    assert generator.render(readme) == readme


def test_defaults_and_bounds_are_shown() -> None:
    table = _generator().table()
    assert "| `SITOO_BR_EDGE_CORE_DEADLINE_SECONDS` | `8` (> 0, ≤ 9.5) |" in table
    assert "| `SITOO_BR_RETENTION_INBOX_DAYS` | `30` (≥ 2) |" in table
    assert "| `SITOO_BR_DATABASE_URL` | unset |" in table
    assert "| `SITOO_BR_RELAY_RETRY_SCHEDULE` | `[0, 5, 300," in table


def test_every_setting_is_in_exactly_one_section() -> None:
    # A field declared twice would silently shadow its namesake in another section; one
    # declared on Settings itself lands in the README's "Other" table until it is moved.
    owners: dict[str, list[str]] = {}
    for section in SECTIONS:
        for name in section.model_fields:
            owners.setdefault(name, []).append(section.__name__)
    shared = {name: where for name, where in owners.items() if len(where) > 1}
    assert shared == {}, f"settings declared in more than one section: {shared}"
    homeless = sorted(set(Settings.model_fields) - set(owners))
    assert homeless == [], f"move these settings into a section module: {homeless}"


def test_settings_inherits_every_section() -> None:
    assert [cls for cls in Settings.__mro__ if cls in SECTIONS] == list(reversed(SECTIONS))
    # ...so the fields come out in the README's order.
    assert list(Settings.model_fields) == [
        name for section in SECTIONS for name in section.model_fields
    ]


def test_tables_are_grouped_by_section() -> None:
    table = _generator().table()
    for section in SECTIONS:
        heading = f"### {section.SECTION_TITLE}\n"
        assert table.count(heading) == 1, heading
        first_row = f"| `{ENV_PREFIX}{next(iter(section.model_fields)).upper()}` |"
        assert table.index(heading) < table.index(first_row)
    assert "### Other" not in table
