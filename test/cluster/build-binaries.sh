#!/usr/bin/env bash
# Builds the local cluster's binaries (control plane, kubelet, kube-proxy, agnhost, CoreDNS, registry, and the test
# tools: helm, kubeconform, gitops-health, Prometheus, and the model stores' MinIO, fake-gcs-server and oras)
# from the pinned Go wrapper modules under test/cluster/go and caches them outside the repo, keyed by
# version: $MODELSHIP_BIN_CACHE/<name>-<version>.
# A binary whose versioned file already exists is not rebuilt, so a warm run takes seconds.
# Usage: build-binaries.sh [name...]   (default: all). Prints one line per binary with its build time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MODELSHIP_BIN_CACHE:-$HOME/.cache/modelship/bin}"
timelog="$cache/build-times.log"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
mkdir -p "$cache"

# module_version <module dir> <module path>: the version pinned in that wrapper's go.mod.
module_version() {
  awk -v m="$2" '{ if ($1 == "require") { $1 = $2; $2 = $3 } } $1 == m && $2 ~ /^v/ && $0 !~ /=>/ { print $2; exit }' "$here/go/$1/go.mod"
}

# build <name> <module dir> <package> <version> [extra ldflags...]
# The caller's environment reaches go build (e.g. CGO_ENABLED=0 build agnhost ...).
build() {
  local name="$1" dir="$2" pkg="$3" version="$4"; shift 4
  local out="$cache/$name-$version"
  if [[ -x "$out" ]]; then
    echo "cached  $name $version ($out)"
  else
    local start end tmp="$out.tmp.$$"
    start=$(date +%s)
    (cd "$here/go/$dir" && go build -trimpath -ldflags "-s -w $*" -o "$tmp" "$pkg")
    mv -f "$tmp" "$out"
    end=$(date +%s)
    echo "built   $name $version in $((end - start))s"
    echo "$(date -u +%FT%TZ) $name $version $((end - start))s go=$(go env GOVERSION) cores=$(nproc)" >> "$timelog"
  fi
  # Stable, version-free name for callers; points at the pinned version.
  ln -sfn "$name-$version" "$cache/$name"
}

k8s=$(module_version kubernetes k8s.io/kubernetes)
etcd=$(module_version etcd go.etcd.io/etcd/server/v3)
kwok=$(module_version kwok sigs.k8s.io/kwok)
helm=$(module_version helm helm.sh/helm/v3)
kubeconform=$(module_version kubeconform github.com/yannh/kubeconform)
coredns=$(module_version coredns github.com/coredns/coredns)
distribution=$(module_version distribution github.com/distribution/distribution/v3)
prometheus=$(module_version prometheus github.com/prometheus/prometheus)
# Our own test tool: versioned by its sources, so any change to them builds a new cache file.
source_key() { cat "$here/go/$1/go.mod" "$here/go/$1/go.sum" "$here/go/$1/main.go" | sha256sum | cut -c1-12; }
gitops_health=$(source_key gitops-health)
# The registry is upstream's code behind our own main (its drivers, htpasswd, a subcommand): the key names both.
distribution_key="$distribution-$(source_key distribution)"
oras=$(module_version oras oras.land/oras)
fake_gcs=$(module_version fake-gcs-server github.com/fsouza/fake-gcs-server)
minio=$(module_version minio github.com/minio/minio)

k8s_minor="${k8s#v1.}"; k8s_minor="${k8s_minor%%.*}"
build_date="$(date -u +%FT%TZ)"
k8s_ldflags=()
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=("-X $pkg.gitVersion=$k8s" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=$k8s_minor"
    "-X $pkg.gitTreeState=clean" "-X $pkg.buildDate=$build_date")
done

# agnhost has its own version (upstream tags its image with it), kept in the Kubernetes tree it is built from.
agnhost_version() {
  cat "$(cd "$here/go/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/VERSION"
}

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy
  agnhost kwok helm kubeconform coredns registry gitops-health prometheus oras fake-gcs-server minio)

for name in "${wanted[@]}"; do
  case "$name" in
    etcd) build etcd etcd . "$etcd" "-X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet|kube-proxy)
      build "$name" kubernetes "k8s.io/kubernetes/cmd/$name" "$k8s" "${k8s_ldflags[@]}" ;;
    agnhost)
      # Static (no cgo), like upstream's, so the agnhost image can be FROM scratch.
      agnhost=$(agnhost_version)
      CGO_ENABLED=0 build agnhost kubernetes k8s.io/kubernetes/test/images/agnhost "$agnhost" "-X main.Version=$agnhost" ;;
    kwok)
      build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$kwok"
      # kwok has no built-in lifecycle: cache the upstream Stage objects of the same version
      # (fast node init + heartbeat, fast pod ready/complete/delete) as its --config.
      stages="$cache/kwok-stages-$kwok.yaml"
      if [[ ! -s "$stages" ]]; then
        src="$(cd "$here/go/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
        for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
                 pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
          echo "---"; cat "$src/$f"
        done > "$stages.tmp.$$"
        mv -f "$stages.tmp.$$" "$stages"
      fi
      ln -sfn "kwok-stages-$kwok.yaml" "$cache/kwok-stages.yaml" ;;
    helm)
      # As helm's own Makefile: the default Kubernetes version (`helm template` without a cluster,
      # and lint) is 1.<client-go minor>; without it helm assumes 1.20 and refuses the chart's
      # kubeVersion. The key names it, so a helm built without these flags is not reused.
      helm_k8s_minor=$(module_version helm k8s.io/client-go); helm_k8s_minor="${helm_k8s_minor#v0.}"; helm_k8s_minor="${helm_k8s_minor%%.*}"
      helm_k8s=()
      for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
        helm_k8s+=("-X $pkg.k8sVersionMajor=1" "-X $pkg.k8sVersionMinor=$helm_k8s_minor")
      done
      build helm helm helm.sh/helm/v3/cmd/helm "$helm-k8s1.$helm_k8s_minor" "-X helm.sh/helm/v3/internal/version.version=$helm" "${helm_k8s[@]}" ;;
    # Static (no cgo), like upstream's, so it runs as a host process or FROM scratch in images.sh.
    coredns) CGO_ENABLED=0 build coredns coredns . "$coredns" "-X github.com/coredns/coredns/coremain.gitTag=$coredns" \
      "-X github.com/coredns/coredns/coremain.GitCommit=module-$coredns" ;;
    registry) build registry distribution . "$distribution_key" "-X github.com/distribution/distribution/v3/version.version=$distribution" \
      "-X github.com/distribution/distribution/v3/version.revision=module-$distribution" ;;
    kubeconform) build kubeconform kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$kubeconform" "-X main.version=$kubeconform" ;;
    gitops-health) build gitops-health gitops-health . "$gitops_health" ;;
    # For the analysis e2e: a real Prometheus that the canary's metric checks query. Built without its
    # web UI assets (the builtinassets tag): the API is what is queried; and without the optional
    # service discoveries (remove_all_sd: cloud SDKs, Kubernetes, Consul...; static and file configs
    # stay), which cuts a cold build from about 8 minutes to under 2 on 2 cores. The key says so.
    prometheus) CGO_ENABLED=0 GOFLAGS="$GOFLAGS -tags=remove_all_sd" build prometheus prometheus \
      github.com/prometheus/prometheus/cmd/prometheus "$prometheus-minsd" \
      "-X github.com/prometheus/common/version.Version=${prometheus#v}" ;;
    # The model stores' tests (test/stores): oras pushes models as OCI artifacts to the registry; static.
    oras) CGO_ENABLED=0 build oras oras oras.land/oras/cmd/oras "$oras" ;;
    # The GCS emulator (JSON API) gs:// models are read from; static.
    fake-gcs-server) CGO_ENABLED=0 build fake-gcs-server fake-gcs-server github.com/fsouza/fake-gcs-server "$fake_gcs" ;;
    # The S3-compatible store s3:// models are read from (AGPLv3: run by tests, never shipped); static. Nothing to
    # leave out (no build tags select its parts); a cold build takes about 4 minutes on 2 cores.
    minio)
      # MinIO publishes no module versions: the pin is a pseudo-version (v0.0.0-<UTC time>-<commit>), whose
      # time and commit are what upstream's gen-ldflags.go stamps into a release (`minio --version`).
      minio_time="${minio#v0.0.0-}"; minio_commit="${minio_time#*-}"; minio_time="${minio_time%%-*}"
      minio_rfc3339="${minio_time:0:4}-${minio_time:4:2}-${minio_time:6:2}T${minio_time:8:2}:${minio_time:10:2}:${minio_time:12:2}Z"
      CGO_ENABLED=0 build minio minio github.com/minio/minio "$minio" \
        "-X github.com/minio/minio/cmd.Version=$minio_rfc3339" "-X github.com/minio/minio/cmd.ReleaseTag=DEVELOPMENT.${minio_rfc3339//:/-}" \
        "-X github.com/minio/minio/cmd.CommitID=$minio_commit" "-X github.com/minio/minio/cmd.ShortCommitID=$minio_commit" \
        "-X github.com/minio/minio/cmd.CopyrightYear=${minio_time:0:4}" ;;
    *) echo "build-binaries.sh: unknown binary '$name'" >&2; exit 2 ;;
  esac
done
