#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing, only as root: the one place
# the build asks apt for anything (test/cluster/node-packages.sh, server-image/image-tools.sh).
# Without root (or apt) it says in one line what is missing, then exits 0 with --optional (the
# caller can do without) or 1 with --required.
# Usage: apt-ensure.sh --optional|--required [--no-recommends] <who> <why> <package>...
set -euo pipefail

need="$1"; shift
recommends=()
[[ "$1" == --no-recommends ]] && { recommends=(--no-install-recommends); shift; }
who="$1" why="$2"; shift 2

missing=()
for p in "$@"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "$who: not root with apt-get, could not install: ${missing[*]} ($why)" >&2
  [[ "$need" == --optional ]] && exit 0 || exit 1
fi

echo "$who: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once and retry.
apt-get install -y -q "${recommends[@]}" "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q "${recommends[@]}" "${missing[@]}"; }
