#!/usr/bin/env bash
# Installs, from apt, what the local cluster's real node and its images need and Go modules cannot give:
# the container runtime (containerd, runc), the CNI plugins (/usr/lib/cni), the packet filters and
# conntrack kube-proxy drives, iproute2 for the node's links, skopeo to push images to the local
# registry, and buildah, gcc and libc6-dev (static pause) for images.sh. Debian 12 gives containerd
# 1.6.20, runc 1.1.5, containernetworking-plugins 1.1.1.
# Only missing packages are installed, and only as root; otherwise it says in one line what is missing
# and exits 0, so the control plane (which needs none of these) still builds.
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/apt-ensure.sh" --optional --no-recommends node-packages.sh \
  "the real node needs them; kwok nodes do not" \
  containerd runc containernetworking-plugins iptables nftables conntrack iproute2 skopeo buildah gcc libc6-dev binutils
