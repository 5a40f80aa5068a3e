#!/usr/bin/env bash
# Builds the container images the local cluster's real node runs, FROM scratch with buildah and with no
# outside registry, as OCI archives cached by version under $MODELSHIP_BIN_CACHE/images:
#   pause-<tag>.oci.tar      registry.k8s.io/pause:<tag>      Kubernetes' build/pause/linux/pause.c, gcc -static
#   agnhost-<ver>.oci.tar    registry.k8s.io/e2e-test-images/agnhost:<ver>   the static agnhost binary
#   coredns-<ver>.oci.tar    registry.k8s.io/coredns/coredns:<ver>           the static coredns binary
# Each archive's index names its reference (org.opencontainers.image.ref.name); <name>.ref holds that
# reference and <name>.oci.tar links to the pinned version, for test/cluster/registry.ts. Timestamps are
# 0 and there is no history, so the same inputs give the same digests. An existing archive is reused.
# Usage: images.sh [pause|agnhost|coredns ...]   (default: all three)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MODELSHIP_BIN_CACHE:-$HOME/.cache/modelship/bin}"
images="$cache/images"
timelog="$cache/build-times.log"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$images"

for tool in buildah gcc strip; do
  command -v "$tool" >/dev/null || { echo "images.sh: $tool not found; run test/cluster/node-packages.sh as root" >&2; exit 1; }
done

# Private buildah storage (vfs: no mounts), removed on exit, so the host's podman store and other
# builds on the machine are never touched.
work="$(mktemp -d "$images/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
bh() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }

k8s_dir() { (cd "$here/go/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes); }
module_version() {
  awk -v m="$2" '{ if ($1 == "require") { $1 = $2; $2 = $3 } } $1 == m && $2 ~ /^v/ && $0 !~ /=>/ { print $2; exit }' "$here/go/$1/go.mod"
}

# image <name> <version> <reference> <binary> <path in image> [buildah config flags...]
# One static binary in an otherwise empty image, written to $images/<name>-<version>.oci.tar.
image() {
  local name="$1" version="$2" ref="$3" bin="$4" path="$5"; shift 5
  local out="$images/$name-$version.oci.tar"
  if [[ -s "$out" ]]; then
    echo "cached  image $ref ($out)"
  else
    local start end ctr
    start=$(date +%s%N)
    ctr=$(bh from --quiet scratch)
    bh copy --quiet "$ctr" "$bin" "$path" >/dev/null
    bh config --os linux --arch amd64 --entrypoint "[\"$path\"]" "$@" "$ctr"
    bh commit --quiet --rm --timestamp 0 --omit-history --identity-label=false "$ctr" "localhost/$name:$version" >/dev/null
    rm -f "$out.tmp"
    bh push --quiet "localhost/$name:$version" "oci-archive:$out.tmp:$ref"
    mv -f "$out.tmp" "$out"
    end=$(date +%s%N)
    echo "built   image $ref in $(( (end - start) / 1000000 ))ms ($(du -k "$out" | cut -f1) KiB)"
    echo "$(date -u +%FT%TZ) image-$name $version $(( (end - start) / 1000000 ))ms size=$(stat -c %s "$out")B" >> "$timelog"
  fi
  echo "$ref" > "$images/$name.ref.tmp" && mv -f "$images/$name.ref.tmp" "$images/$name.ref"
  ln -sfn "$name-$version.oci.tar" "$images/$name.oci.tar"
}

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(pause agnhost coredns)

for name in "${wanted[@]}"; do
  case "$name" in
    pause)
      src="$(k8s_dir)/build/pause"
      tag=$(awk '$1 == "TAG" && $2 == "?=" { print $3; exit }' "$src/Makefile")
      if [[ ! -s "$images/pause-$tag.oci.tar" ]]; then
        # Upstream's flags (build/pause/Makefile), with the Kubernetes release in place of its git revision.
        gcc -Os -Wall -Werror -static "-DVERSION=v$tag-$(module_version kubernetes k8s.io/kubernetes)" \
          -o "$work/pause" "$src/linux/pause.c"
        strip "$work/pause"
      fi
      image pause "$tag" "registry.k8s.io/pause:$tag" "$work/pause" /pause --user 65535:65535 ;;
    agnhost)
      "$here/build-binaries.sh" agnhost
      ver=$(cat "$(k8s_dir)/test/images/agnhost/VERSION")
      # Upstream's image runs `agnhost pause` when given no arguments; tests pass e.g. `netexec --http-port=8080`.
      image agnhost "$ver" "registry.k8s.io/e2e-test-images/agnhost:$ver" "$cache/agnhost-$ver" /agnhost --cmd pause ;;
    coredns)
      "$here/build-binaries.sh" coredns
      ver=$(module_version coredns github.com/coredns/coredns)
      image coredns "$ver" "registry.k8s.io/coredns/coredns:$ver" "$cache/coredns-$ver" /coredns ;;
    *) echo "images.sh: unknown image '$name'" >&2; exit 2 ;;
  esac
done
