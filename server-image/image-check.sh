#!/usr/bin/env bash
# Checks a built Modelship image from the outside, the way a restricted pod runs it: read-only root,
# uid 65532, no capabilities, no privilege escalation, writable only at /var/cache/modelship.
#   - what it holds (image-contents-check.sh: no shell, .node-version's Node, no test code, ...);
#   - the server serves examples/models/digits.onnx (digest from SHA256SUMS) and predicts 3 for
#     samples/digit-3.v2.json;
#   - the router (MODELSHIP_MODE=router) starts, becomes ready and routes the same request to it;
#   - the operator loads (it logs "starting", then stops at the unreachable API server), and
#     `modelship validate` accepts examples/digits.yaml and rejects a broken copy, against /app/crds.
# Containers talk only to loopback. Exits non-zero with the failed check named.
#
# usage: image-check.sh <image> <node-version>      ENGINE=podman|docker (default podman)
set -euo pipefail

image="$1"
node_version="$2"
engine="${ENGINE:-podman}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
sha256="$(awk '$2 == "digits.onnx" { print $1 }' "$repo/examples/models/SHA256SUMS")"
sample="$repo/examples/models/samples/digit-3.v2.json"
name="modelship-image-check-$$"
work="$(mktemp -d)"
started=$SECONDS

cleanup() {
  # The router first: the server's network namespace cannot go while the router uses it.
  for c in "$name-router" "$name-server"; do
    if "$engine" container inspect "$c" >/dev/null 2>&1; then
      "$engine" rm -f -t 0 "$c" >/dev/null || echo "image-check: remove container $c failed" >&2
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "image-check $image: $*" >&2
  for c in "$name-server" "$name-router"; do
    if "$engine" container inspect "$c" >/dev/null 2>&1; then echo "--- logs of $c:" >&2; "$engine" logs "$c" 2>&1 | tail -20 >&2; fi
  done
  exit 1
}
ok() { echo "ok   $*"; }

# As a pod with restricted securityContext and an emptyDir at the cache runs it.
restricted=(--read-only --user 65532:65532 --cap-drop=ALL --security-opt no-new-privileges
  --tmpfs /var/cache/modelship:rw,size=64m,mode=1777)

# Polls url until it answers 200, or fails naming what did not become ready.
wait_ready() {
  local what="$1" url="$2" container="$3"
  for _ in $(seq 1 120); do
    if curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null; then return 0; fi
    [[ "$("$engine" inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" == true ]] || fail "$what exited before it was ready"
    sleep 0.5
  done
  fail "$what not ready at $url after 60 s"
}

# Prints the predicted class (output "label") of a V2 infer request with the digit-3 sample.
predict() {
  curl -fsS -m 10 "$1/v2/models/digits/infer" -H 'content-type: application/json' -d @"$sample" \
    | jq -r '.outputs[] | select(.name == "label") | .data[0]'
}

# 1. What the image holds.
"$(dirname "$0")/image-contents-check.sh" "$image" "$node_version" || fail "contents (see above)"

# 2. The server on the example model; the router container shares its network namespace, so both
#    ports are published (to loopback only) by the server container.
"$engine" run -d --name "$name-server" "${restricted[@]}" \
  -p 127.0.0.1::8080 -p 127.0.0.1::8081 \
  -e MODELSHIP_MODEL_URI=file:///models/digits.onnx -e MODELSHIP_SHA256="$sha256" \
  "$image" >/dev/null || fail "start the server container"
port_of() { "$engine" port "$name-server" "$1/tcp" | head -1 | sed 's/.*://'; }
server="http://127.0.0.1:$(port_of 8080)"
router="http://127.0.0.1:$(port_of 8081)"
wait_ready "server" "$server/v2/health/ready" "$name-server"
ok "server ready on file:///models/digits.onnx (sha256 verified)"
class="$(predict "$server")" || fail "V2 infer on the server failed"
[[ "$class" == 3 ]] || fail "server predicted class '$class' for digit-3, want 3"
ok "server predicts 3 for digit-3.v2.json"

# 3. The router, from a routes file, in front of that server.
cat >"$work/routes.json" <<'EOF'
{"version": 1, "generation": 1, "revisions": [{"name": "digits-check", "url": "http://127.0.0.1:8080", "weight": 100, "model": "digits"}]}
EOF
chmod 644 "$work/routes.json"
"$engine" run -d --name "$name-router" "${restricted[@]}" --network "container:$name-server" \
  -v "$work/routes.json:/etc/modelship/routes.json:ro" \
  -e MODELSHIP_MODE=router -e MODELSHIP_PORT=8081 -e MODELSHIP_METRICS_PORT=9091 \
  -e MODELSHIP_ROUTES_FILE=/etc/modelship/routes.json \
  "$image" >/dev/null || fail "start the router container"
wait_ready "router" "$router/v2/health/ready" "$name-router"
class="$(predict "$router")" || fail "V2 infer through the router failed"
[[ "$class" == 3 ]] || fail "router answered class '$class' for digit-3, want 3"
ok "router ready; routes digit-3.v2.json to the server, class 3"

# 4. The operator: it loads and starts, then stops at the API server (nothing listens on port 1).
cat >"$work/kubeconfig" <<'EOF'
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
EOF
chmod 644 "$work/kubeconfig"
set +e
out="$("$engine" run --rm "${restricted[@]}" -v "$work/kubeconfig:/etc/modelship/kubeconfig:ro" \
  "$image" dist/operator/src/main.js --kubeconfig /etc/modelship/kubeconfig --leader-elect=false 2>&1)"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "operator exited 0 with no API server to talk to"
grep -q '"msg":"starting"' <<<"$out" || fail "operator did not start: $out"
grep -q 'ECONNREFUSED 127.0.0.1:1' <<<"$out" || fail "operator failed for another reason than the missing API server: $out"
ok "operator starts (then exits $rc: no API server)"

validate() { "$engine" run -i --rm "${restricted[@]}" "$image" dist/operator/src/cli.js validate -; }
validate <"$repo/examples/digits.yaml" >/dev/null || fail "modelship validate rejected examples/digits.yaml"
set +e
out="$(sed 's/replicas: 2/replicas: -2/' "$repo/examples/digits.yaml" | validate 2>&1)"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "modelship validate exited $rc on replicas: -2, want 1"
grep -q 'spec.replicas' <<<"$out" || fail "modelship validate did not name spec.replicas: $out"
ok "modelship validate uses the CRD at /app/crds (accepts digits.yaml, rejects replicas: -2)"

echo "image-check $image: all passed in $((SECONDS - started)) s"
