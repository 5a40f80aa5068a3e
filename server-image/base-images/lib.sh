# Shared by the base-image scripts (sourced, not run): the target architecture and the npm-registry
# tarballs they unpack. The official Node binaries are published on the npm registry as
# node-linux-<arch>, which this machine reaches; nodejs.org is not reachable here.

# Debian architecture (amd64, arm64) of the images made: BASE_ARCH, else this machine's.
debian_arch() {
  if [[ -n "${BASE_ARCH:-}" ]]; then echo "$BASE_ARCH"; return; fi
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) echo "base images: no Node binary mapping for machine $(uname -m)" >&2; return 1 ;;
  esac
}

# Node's name for a Debian architecture, as in node-linux-<arch>.
node_arch() {
  case "$1" in
    amd64) echo x64 ;;
    arm64) echo arm64 ;;
    *) echo "base images: no Node binary for Debian architecture $1" >&2; return 1 ;;
  esac
}

# Prints the path of <package>@<version>'s tarball, fetched once into the cache.
npm_tarball() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/modelship/base-images"
  local file="$cache/$1-$2.tgz"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$cache"
    (cd "$cache" && npm pack --silent "$1@$2" >/dev/null) || { echo "base images: fetch $1@$2 from the npm registry failed" >&2; return 1; }
  fi
  echo "$file"
}
