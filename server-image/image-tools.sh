#!/usr/bin/env bash
# Installs, from apt, what `make image` needs on a machine without Docker: podman with runc (which
# works under cgroup v1 where crun does not) and netavark + aardvark-dns named explicitly (where the
# real node's CNI plugins are installed first, apt does not bring them, and podman 4.3's build
# network then fails looking for netavark), and mmdebstrap, which makes the Dockerfile's base images
# where their registries are unreachable.
# Only missing packages are installed, and only as root; otherwise it says in one line what is
# missing and fails, since no image can be built without them.
# Usage: image-tools.sh <engine>   (docker needs nothing from here)
set -euo pipefail

[[ "${1:-podman}" == docker ]] && exit 0
packages=(podman netavark aardvark-dns runc mmdebstrap uidmap)

missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "image-tools.sh: make image needs ${missing[*]} (or a running Docker engine); install them as root" >&2
  exit 1
fi

echo "image-tools.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# With recommends (netavark, aardvark-dns, fuse-overlayfs...): the set `make image` was measured with.
# A fresh machine may have no package lists yet: update once and retry.
apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }
