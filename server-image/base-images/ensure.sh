#!/usr/bin/env bash
# Makes sure one base image of server-image/Dockerfile is in local storage under its upstream name,
# so the Dockerfile builds unchanged with --pull=never: kept if already there; else pulled, with a
# short timeout (registries other than package registries are unreachable on some build machines,
# and a pull there may hang rather than fail); else made locally by the given script. Prints one line
# saying which.
#
# usage: ensure.sh <image> <make-script> <node-version>
#   ENGINE       podman (default) or docker
#   PULL_TIMEOUT seconds a pull may take before the image is made locally instead (default 20)
set -euo pipefail

image="$1"
maker="$2"
version="$3"
engine="${ENGINE:-podman}"
timeout_s="${PULL_TIMEOUT:-20}"
here="$(cd "$(dirname "$0")" && pwd)"

if "$engine" image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image: present locally"
  exit 0
fi
if pull_error="$(timeout "$timeout_s" "$engine" pull -q "$image" 2>&1 >/dev/null)"; then
  echo "base image $image: pulled"
  exit 0
fi
reason="$(tail -n1 <<<"${pull_error:-no answer in ${timeout_s} s}" | sed 's/.*: //')"
echo "base image $image: pull failed ($reason); making it locally with server-image/base-images/$maker (about a minute)"
ENGINE="$engine" "$here/$maker" "$version" "$image"
