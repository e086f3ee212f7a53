#!/usr/bin/env bash
# CI, after the test suite: build the image (and its local Debian base) and smoke-test it
# against the CI PostgreSQL with the sandbox emulators (scripts/smoke_image.py). Fails loudly:
# any step that fails prints its output and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

image=localhost/sitoo-bloomreach:ci
started=$(date +%s)
echo "== image: build"
scripts/build_image.sh "$image"
echo "== image: smoke test"
.venv/bin/python scripts/smoke_image.py "$image" --results "${SMOKE_RESULTS:-/dev/null}"
echo "== image: done in $(($(date +%s) - started)) s"
