#!/usr/bin/env bash
# `make kind`: Modelship on a kind cluster, for users with Docker. Creates (or reuses) the kind
# cluster "modelship", loads the image `make image` built (no registry needed), installs the Helm
# chart with its defaults and examples/digits.yaml, and prints how to reach the model.
# Fails early, in one line, when something it needs cannot be had (no Docker engine, no kind binary
# and no Go to build it): kind's node image comes from Docker Hub, so a machine without Docker or
# without access to it cannot run kind at all.
# Usage: kind.sh check                        (Docker and kind, before anything is built)
#        kind.sh up <image-ref> <helm> <kubectl> (the Makefile passes them)
set -euo pipefail

mode="${1:-}"
cluster="${KIND_CLUSTER:-modelship}"
kind_version="${KIND_VERSION:-v0.33.0}"
cache="${MODELSHIP_BIN_CACHE:-$HOME/.cache/modelship/bin}"

fail() { echo "make kind: $*" >&2; exit 1; }

# Docker first: without an engine nothing below can work, so say so before building anything.
command -v docker >/dev/null || fail "needs Docker (kind runs Kubernetes nodes as Docker containers); no docker command found"
docker_error="$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null)" || fail "needs a running Docker engine; docker info: ${docker_error//$'\n'/ }"

# kind itself: the user's, else built once from its Go module (pinned) into the tool cache.
if command -v kind >/dev/null; then
  kind="$(command -v kind)"
else
  kind="$cache/kind-$kind_version"
  if [[ ! -x "$kind" ]]; then
    command -v go >/dev/null || fail "needs kind (https://kind.sigs.k8s.io) or Go to build sigs.k8s.io/kind@$kind_version"
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    GOBIN="$tmp" go install "sigs.k8s.io/kind@$kind_version" || fail "could not build sigs.k8s.io/kind@$kind_version"
    mv -f "$tmp/kind" "$kind" && rmdir "$tmp"
  fi
fi
[[ "$mode" == check ]] && exit 0
[[ "$mode" == up && $# -eq 4 ]] || fail "usage: kind.sh check | kind.sh up <image-ref> <helm> <kubectl>"
image="$2" helm="$3" kubectl="$4"

if ! "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  "$kind" create cluster --name "$cluster" --wait 120s || fail "kind create cluster $cluster failed (its node image comes from Docker Hub: is it reachable?)"
fi
kubeconfig="$(mktemp)"
trap 'rm -f "$kubeconfig"' EXIT
"$kind" get kubeconfig --name "$cluster" > "$kubeconfig"

"$kind" load docker-image "$image" --name "$cluster"
"$helm" upgrade --install modelship charts/modelship --kubeconfig "$kubeconfig" \
  --namespace modelship-system --create-namespace --wait --timeout 5m
"$kubectl" --kubeconfig "$kubeconfig" apply --server-side -f examples/digits.yaml
"$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready --timeout=300s modeldeployment/digits

cat <<MSG

Modelship and examples/digits.yaml run on kind cluster "$cluster".
  kind get kubeconfig --name $cluster > kind.kubeconfig; export KUBECONFIG=\$PWD/kind.kubeconfig
  kubectl get md
  kubectl port-forward svc/digits 8080:80 &
  curl -s -d @examples/models/samples/digit-3.v2.json http://127.0.0.1:8080/v2/models/digits/infer
The real-pod e2e suite runs against it too:  make e2e-pods E2E_KUBECONFIG=\$PWD/kind.kubeconfig
Remove it with:  kind delete cluster --name $cluster
MSG
