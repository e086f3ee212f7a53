"""Refresh ``upstream/`` from GitHub: ``python -m sandbox.sitoo_api.schema.refresh [REF]``.

Downloads the order schema files and the three example-bearing path files of
``spysystem/sitoo-client`` at ``REF`` (a commit, tag or branch; default ``master``), writes the
schema files verbatim and the examples as JSON, then prints what changed (``git diff``). Run the
schema tests afterwards (``pytest tests/sandbox/sitoo_api/test_sitoo_api_schema.py``) and update
``SOURCE.md`` with the commit. Needs network access to raw.githubusercontent.com.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import yaml

REPOSITORY = "spysystem/sitoo-client"
HERE = Path(__file__).parent / "upstream"
SCHEMA_FILES = (
    "order-read.yaml",
    "orderitem-read.yaml",
    "orderpayment-read.yaml",
    "orderreservedpayment-read.yaml",
    "orderlogitem-read.yaml",
    "order-additionaldata-read.yaml",
    "orderitem-additionaldata-read.yaml",
    "orderitemsalestax-read.yaml",
    "orderreservedpayment-additionaldata-read.yaml",
    "orderpayment-additionaldata-read.yaml",
    "orderpayment-additionaldata-write.yaml",
    "getAllOrdersResponse.yaml",
)
#: example file → (path file, HTTP method, "request" or the response status)
EXAMPLES = {
    "getOrder.response": ("src/paths/sites/_siteid_/orders/_orderid_.yaml", "get", 200),
    "addOrder.request": ("src/paths/sites/_siteid_/orders.yaml", "post", "request"),
    "getAllOrders.response": ("src/paths/orders.yaml", "get", 200),
}


def _fetch(ref: str, path: str) -> str | None:
    url = f"https://raw.githubusercontent.com/{REPOSITORY}/{ref}/{path}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            text: str = response.read().decode("utf-8")
            return text
    except OSError as error:
        print(f"skip {path}: {error}", file=sys.stderr)
        return None


def main(ref: str = "master") -> None:
    for name in SCHEMA_FILES:
        text = _fetch(ref, f"src/schemas/{name}")
        if text is not None:
            (HERE / "src" / "schemas" / name).write_text(text, encoding="utf-8")
    for example, (path, method, part) in EXAMPLES.items():
        text = _fetch(ref, path)
        if text is None:
            continue
        operation = yaml.safe_load(text)[method]
        if part == "request":
            value = operation["requestBody"]["content"]["application/json"]["example"]
        else:
            value = operation["responses"][part]["content"]["application/json"]["example"]
        (HERE / "examples" / f"{example}.json").write_text(
            json.dumps(value, separators=(",", ":")) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main(*sys.argv[1:2])
