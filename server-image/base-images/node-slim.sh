#!/usr/bin/env bash
# Makes a stand-in for the official node:<version>-trixie-slim where Docker Hub cannot be reached:
# a minimal Debian 13 (mmdebstrap minbase) with the official Node binary (node-linux-<arch> from the
# npm registry, with the libatomic1 it links) and npm in /usr/local, as the official image lays them out. Only the Dockerfile's
# build stage uses it, so it needs to compile and `npm install`, nothing more.
#
# usage: node-slim.sh <node-version> <image-name>
# Needs root (mmdebstrap), podman (or ENGINE=docker), npm (to fetch the tarballs from the npm registry).
set -euo pipefail

version="$1"
image="$2"
# The official image bundles the npm of its Node release; the registry has no record of which that
# is, so this is the npm 11 release current when the script was written.
npm_version=11.21.3
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
arch="$(debian_arch)"
node_tgz="$(npm_tarball "node-linux-$(node_arch "$arch")" "$version")"
npm_tgz="$(npm_tarball npm "$npm_version")"

# Like Debian's slim images: no manuals, docs or translations.
mmdebstrap --quiet --variant=minbase --architectures="$arch" --include=libatomic1 \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 package/bin/node" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  trixie - http://deb.debian.org/debian \
  | "${ENGINE:-podman}" import $([[ "${ENGINE:-podman}" == podman ]] && echo --quiet) \
      --change "ENV NODE_VERSION=$version" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["node"]' \
      - "$image" >/dev/null
