#!/usr/bin/env bash
# Installs, from apt, what `make image` needs on a machine without Docker: podman with runc (which
# works under cgroup v1 where crun does not) and netavark + aardvark-dns named explicitly (where the
# real node's CNI plugins are installed first, apt does not bring them, and podman 4.3's build
# network then fails looking for netavark), and mmdebstrap, which makes the Dockerfile's base images
# where their registries are unreachable.
# Only missing packages are installed, and only as root (test/cluster/apt-ensure.sh); otherwise it
# says in one line what is missing and fails, since no image can be built without them.
# Usage: image-tools.sh <engine>   (docker needs nothing from here)
set -euo pipefail

[[ "${1:-podman}" == docker ]] && exit 0
# With recommends: the set `make image` was measured with.
exec "$(dirname "${BASH_SOURCE[0]}")/../test/cluster/apt-ensure.sh" --required image-tools.sh \
  "make image needs them, or a running Docker engine" \
  podman netavark aardvark-dns runc mmdebstrap uidmap
