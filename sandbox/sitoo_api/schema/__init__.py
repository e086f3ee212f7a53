"""Sitoo's published order schema, kept as data, and a strict validator for it.

``upstream/`` holds verbatim copies of the order files of the public OpenAPI 3.0 description of
Sitoo's REST API v2 in the GitHub repository ``spysystem/sitoo-client`` (schema descriptions
transcribed from developer.sitoo.com); ``SOURCE.md`` names every file's path and commit and says
how to refresh them. The validator reads those YAML files as they are: OpenAPI 3.0 has no
``null`` type unless a schema says ``nullable: true`` and none of these does, so a ``null``
anywhere in an order is an error here. Nothing is relaxed.

Test and tooling code only (needs PyYAML and jsonschema from the ``dev`` extras).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).parent / "upstream"
SCHEMAS = UPSTREAM / "src" / "schemas"
EXAMPLES = UPSTREAM / "examples"

#: The stored copy lacks this one file (``orderpayment-read.yaml`` refers to it); the write
#: variant has the same description and keys, so it stands in. Named here, not hidden.
SUBSTITUTES = {"orderpayment-additionaldata-read.yaml": "orderpayment-additionaldata-write.yaml"}

ORDER = "order-read.yaml"
ORDER_LIST = "getAllOrdersResponse.yaml"


def _load(name: str) -> dict[str, Any]:
    import yaml

    path = SCHEMAS / SUBSTITUTES.get(name, name)
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _inline(node: Any) -> Any:
    """Replace each ``$ref: 'file.yaml'`` by that file's schema (the order files do not recurse)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(_load(str(node["$ref"])))
        return {key: _inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value) for value in node]
    return node


@cache
def schema(name: str = ORDER) -> dict[str, Any]:
    """The named published schema with every reference inlined."""
    inlined: dict[str, Any] = _inline(_load(name))
    return inlined


def errors(instance: Any, name: str = ORDER) -> list[str]:
    """Every way ``instance`` breaks the published schema ``name``, as ``path: message``."""
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    validator = Draft4Validator(schema(name))
    found = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in found
    ]


def example(name: str) -> Any:
    """A published example, e.g. ``getOrder.response`` or ``addOrder.request``."""
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
