"""The schema-version gate, without Alembic in the serving processes.

Alembic (with Mako and Pygments behind it) costs a serving process about 11 MB of resident
memory for the life of the process, only to compare two revision ids at start-up. The
revisions' ids are read from the revision files' source instead (never imported), and the
database's from Alembic's own table; tests/db/test_migrations.py holds both readings equal to
Alembic's.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

VERSIONS = Path(migrations.__file__).parent / "versions"
# Alembic's default version table (migrations/env.py does not rename it).
VERSION_TABLE = "alembic_version"
SELECT_VERSIONS = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant


class SchemaNotCurrentError(Exception):
    """The database is not at the revision this code needs."""


def _assigned(tree: ast.Module, name: str) -> object:
    """The literal a revision file assigns to ``name`` at top level (absent: None)."""
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, value = node.targets[0].id, node.value
        else:
            continue
        if target == name and value is not None:
            return ast.literal_eval(value)
    return None


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"unexpected down_revision {value!r}")


def head_revision(versions: Path = VERSIONS) -> str:
    """The one revision no other revision builds on (what `migrate` upgrades to)."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in versions.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        revision = _assigned(tree, "revision")
        if not isinstance(revision, str):
            continue  # not a revision file
        revisions.add(revision)
        built_on.update(_as_tuple(_assigned(tree, "down_revision")))
    heads = revisions - built_on
    if len(heads) != 1:
        raise ValueError(f"the revisions in {versions} have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def current_revision(connection: Connection) -> str | None:
    """The database's revision as Alembic recorded it; None for a database never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = [row[0] for row in connection.execute(SELECT_VERSIONS)]
    if len(found) > 1:
        raise SchemaNotCurrentError(
            f"the database records several revisions ({', '.join(sorted(found))}): "
            "run `sitoo-bloomreach migrate` first"
        )
    return found[0] if found else None


async def check_schema_current(engine: AsyncEngine) -> None:
    """Refuse to run against a database that `sitoo-bloomreach migrate` has not brought up."""
    expected = head_revision()
    async with engine.connect() as connection:
        found = await connection.run_sync(current_revision)
    if found != expected:
        where = "an empty database" if found is None else f"revision {found}"
        raise SchemaNotCurrentError(
            f"the database is at {where}, but this version needs revision {expected}: "
            "run `sitoo-bloomreach migrate` first"
        )
