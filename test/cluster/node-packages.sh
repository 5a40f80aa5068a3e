#!/usr/bin/env bash
# Installs, from apt, what the local cluster's real node and its images need and Go modules cannot give:
# the container runtime (containerd, runc), the CNI plugins (/usr/lib/cni), the packet filters and
# conntrack kube-proxy drives, iproute2 for the node's links, skopeo to push images to the local
# registry, and buildah, gcc and libc6-dev (static pause) for images.sh. Debian 12 gives containerd
# 1.6.20, runc 1.1.5, containernetworking-plugins 1.1.1.
# Only missing packages are installed, and only as root; otherwise it says in one line what is missing
# and exits 0, so the control plane (which needs none of these) still builds.
set -euo pipefail

packages=(containerd runc containernetworking-plugins iptables nftables conntrack iproute2 skopeo buildah gcc libc6-dev binutils)

missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "node-packages.sh: not root with apt-get, could not install: ${missing[*]} (the real node needs them; kwok nodes do not)" >&2
  exit 0
fi

echo "node-packages.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once and retry.
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
