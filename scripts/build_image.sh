#!/usr/bin/env bash
# Builds the sitoo-bloomreach image from the Containerfile (`make image`).
#
#   scripts/build_image.sh [IMAGE]          default: localhost/sitoo-bloomreach:VERSION
#
# Environment:
#   BASE_IMAGE     the base to build on. Unset, with buildah: a local Debian bookworm + Python
#                  3.11 base made from Debian's packages (scripts/build_base_image.sh), for
#                  machines that reach no image registry; unset, with docker: the public
#                  docker.io/library/python:3.11-slim-bookworm (pass it to buildah too, to use it)
#   WITH_SANDBOX   true: keep the emulators, the driver and the benchmarks (default false)
#   PIP_INDEX_URL  a package index other than PyPI, for the build only
#   PIP_CERT       a CA bundle pip must trust (a TLS-inspecting proxy); default: the `cert`
#                  of this host's pip configuration, if it has one. Passed as a build secret.
#
# Uses buildah (chroot isolation: no daemon, no user namespaces needed), or docker when
# buildah is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
image=${1:-localhost/sitoo-bloomreach:$version}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
    revision="$revision-dirty"
fi
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

base=${BASE_IMAGE:-}
if [[ -z "$base" ]] && ! command -v buildah >/dev/null; then
    # docker can pull the public base; the local one needs buildah and mmdebstrap.
    base=docker.io/library/python:3.11-slim-bookworm
elif [[ -z "$base" ]]; then
    base=localhost/sitoo-bloomreach-base:bookworm
    scripts/build_base_image.sh "$base"
fi

args=(
    --file Containerfile
    --build-arg "BASE_IMAGE=$base"
    --build-arg "VERSION=$version"
    --build-arg "REVISION=$revision"
    --build-arg "CREATED=$created"
    --build-arg "WITH_SANDBOX=${WITH_SANDBOX:-false}"
    --build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-}"
    --tag "$image"
)
pip_cert=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
if [[ -n "$pip_cert" && -s "$pip_cert" ]]; then
    args+=(--secret "id=pip-cert,src=$pip_cert")
fi
started=$(date +%s)
if command -v buildah >/dev/null; then
    # --network host: the build's pip reaches the package index the way this host does.
    buildah bud --isolation chroot --network host --layers "${args[@]}" .
else
    docker build "${args[@]}" .
fi
echo "image $image ($revision) built in $(($(date +%s) - started)) s"
