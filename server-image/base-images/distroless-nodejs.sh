#!/usr/bin/env bash
# Makes a stand-in for gcr.io/distroless/nodejs<major>-debian13:nonroot where that registry cannot be
# reached, with what the upstream image holds: glibc, libgcc/libgomp/libstdc++/libatomic, libssl and
# zlib/zstd, ca-certificates (the bundle only), tzdata, netbase, base-files, /etc/passwd and /etc/group
# with root, nobody and nonroot (65532), node at /nodejs/bin/node as the ENTRYPOINT, user 65532.
# No shell, no package manager, no npm.
#
# usage: distroless-nodejs.sh <node-version> <image-name>
# Needs root (mmdebstrap), podman (or ENGINE=docker), npm (to fetch node-linux-<arch> from the npm registry).
set -euo pipefail

version="$1"
image="$2"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
arch="$(debian_arch)"
node_tgz="$(npm_tarball "node-linux-$(node_arch "$arch")" "$version")"

# The upstream package set (distroless base, cc and nodejs layers for Debian 13).
packages=(base-files netbase tzdata ca-certificates libc6 libssl3t64 zlib1g libzstd1 libgcc-s1 libgomp1 libstdc++6 libatomic1)

work="$(mktemp -d /var/tmp/modelship-distroless.XXXXXX)"
trap 'rm -rf "$work"' EXIT
donor="$work/donor"
root="$work/root"

# A normal minimal Debian with the packages installed (maintainer scripts run, so the CA bundle is
# generated); the image takes only those packages' files from it.
mmdebstrap --quiet --variant=minbase --architectures="$arch" --include="$(IFS=,; echo "${packages[*]}")" \
  trixie "$donor" http://deb.debian.org/debian

mkdir -p "$root"
# Merged /usr: /bin, /lib, /lib64, /sbin are symlinks into /usr (their targets hold no shell).
for link in bin lib lib64 sbin; do
  if [[ -L "$donor/$link" ]]; then cp -P "$donor/$link" "$root/$link"; fi
done
# Each package's files, without manuals, changelogs and translations (copyright files stay).
dpkg-query --admindir="$donor/var/lib/dpkg" -L "${packages[@]}" \
  | grep -vE '^/usr/share/(man|info|lintian|locale)/|^/usr/share/doc/.*/(changelog|NEWS|README)' \
  | sed 's|^/||' | sort -u \
  | tar -C "$donor" --no-recursion -cf - -T - | tar -C "$root" -xpf -
cp "$donor/etc/ssl/certs/ca-certificates.crt" "$root/etc/ssl/certs/ca-certificates.crt"
# Package records where scanners (trivy, grype) look for them in distroless images.
mkdir -p "$root/var/lib/dpkg/status.d"
for p in "${packages[@]}"; do
  dpkg-query --admindir="$donor/var/lib/dpkg" -s "$p" >"$root/var/lib/dpkg/status.d/$p"
done

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
GROUP
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
install -d -m 1777 "$root/tmp"
install -d -m 700 "$root/root"
install -d -m 700 -o 65532 -g 65532 "$root/home/nonroot"

mkdir -p "$root/nodejs/bin"
tar -xzf "$node_tgz" -C "$root/nodejs/bin" --strip-components=2 package/bin/node
tar -xzf "$node_tgz" -C "$root/nodejs" --strip-components=1 package/LICENSE

tar -C "$root" --numeric-owner -cf - . | "${ENGINE:-podman}" import $([[ "${ENGINE:-podman}" == podman ]] && echo --quiet) \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
  --change 'USER 65532' \
  --change 'WORKDIR /home/nonroot' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  - "$image" >/dev/null
