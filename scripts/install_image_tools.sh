#!/usr/bin/env bash
# The container tools CI and `make image` use, from Debian's packages: buildah (builds and runs
# images without a daemon), mmdebstrap (the local base image) and docker-compose (validates
# deploy/compose). Idempotent; needs root (CI runs as root).
set -euo pipefail

needed=()
command -v buildah >/dev/null || needed+=(buildah)
command -v mmdebstrap >/dev/null || needed+=(mmdebstrap)
command -v docker-compose >/dev/null || needed+=(docker-compose)
if ((${#needed[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
buildah --version
mmdebstrap --version
docker-compose version --short
