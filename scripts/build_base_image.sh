#!/usr/bin/env bash
# A local stand-in for the public base image the Containerfile names
# (python:3.11-slim-bookworm), made from Debian's packages with mmdebstrap, for machines that
# reach Debian's archive but no image registry. It has what the Containerfile relies on: a
# Python 3.11 `python3` that can make a venv (with pip), CA certificates, and tzdata.
#
#   scripts/build_base_image.sh [IMAGE]     (default localhost/sitoo-bloomreach-base:bookworm)
#
# Skips the build when IMAGE exists already (set REBUILD_BASE=1 to make it anew). Needs root,
# buildah and mmdebstrap (scripts/install_image_tools.sh).
set -euo pipefail

image=${1:-localhost/sitoo-bloomreach-base:bookworm}
if [[ -z "${REBUILD_BASE:-}" ]] && buildah inspect --type image "$image" >/dev/null 2>&1; then
    echo "base image $image exists (REBUILD_BASE=1 to rebuild)"
    exit 0
fi

work=$(mktemp -d)
container=""
cleanup() {
    [[ -n "$container" ]] && buildah rm "$container" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The archive this machine's apt already uses (same mirror, same security suite); without
# one, mmdebstrap falls back to its default mirror.
sources=()
for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s "$file" ]] && grep -q '^[^#]' "$file" && sources+=("$file")
done

started=$(date +%s)
# minbase: essential packages and apt only; no compilers, no docs or man pages.
mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,ca-certificates,tzdata \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --aptopt='Apt::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$work/rootfs.tar" "${sources[@]}"

container=$(buildah from scratch)
buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd python3 \
    --label org.opencontainers.image.title="sitoo-bloomreach local base (Debian bookworm + python3)" \
    --label org.opencontainers.image.base.name="debian:bookworm (mmdebstrap minbase)" \
    "$container"
buildah commit --quiet --rm "$container" "$image" >/dev/null
container=""
echo "base image $image built in $(($(date +%s) - started)) s"
