#!/usr/bin/env bash
# Checks what a built Modelship image holds, without starting its services (a few seconds; make image
# runs it after every build, so no image with test code is ever tagged without an error):
#   - no shell to exec into;
#   - its node is the project's Node release (.node-version): upstream's distroless tags name only
#     the major, so a pulled runtime base may carry another patch release;
#   - no test code (*.test.js, fixtures, test directories, .ts), no source maps, no
#     devDependencies, no onnxruntime-node binaries for other platforms, no apt, dpkg or npm.
# Exits non-zero naming what is wrong.
#
# usage: image-contents-check.sh <image> <node-version>      ENGINE=podman|docker (default podman)
set -euo pipefail

image="$1"
node_version="$2"
engine="${ENGINE:-podman}"

fail() {
  echo "image-contents-check $image: $*" >&2
  exit 1
}
ok() { echo "ok   $*"; }

# 1. No shell to exec into.
if "$engine" run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
  fail "run /bin/sh: it exists, the runtime image must have no shell"
fi
ok "no /bin/sh"

# 2. The Node release the project is tested on.
node="$("$engine" run --rm "$image" -p process.version)" || fail "run node -p process.version"
[[ "$node" == "v$node_version" ]] || fail "node is $node, want v$node_version (.node-version)"
ok "node $node"

# 3. Contents, listed by the image's own node (its entrypoint): anything that must not ship.
contents_check='
const fs = require("fs"), path = require("path");
const bad = [];
function walk(dir, visit) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    visit(p, e);
    if (e.isDirectory()) walk(p, visit);
  }
}
walk("/app", (p, e) => {
  if (/\.test\.[cm]?js$|\.map$/.test(e.name) || /^fixtures(\.|$)/.test(e.name)) bad.push(p);
  if (p.startsWith("/app/dist/") && (/\.ts$/.test(e.name) || (e.isDirectory() && /^(test|tests|__tests__)$/.test(e.name)))) bad.push(p);
});
const ort = "/app/node_modules/onnxruntime-node/bin/napi-v6";
for (const os of fs.readdirSync(ort)) {
  for (const cpu of fs.readdirSync(path.join(ort, os))) if (os !== "linux" || cpu !== process.arch) bad.push(path.join(ort, os, cpu));
}
const dev = Object.keys(JSON.parse(fs.readFileSync("/app/package.json", "utf8")).devDependencies ?? {});
for (const d of dev) if (fs.existsSync(path.join("/app/node_modules", d))) bad.push("/app/node_modules/" + d + " (devDependency)");
for (const p of ["/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/npm", "/usr/local/bin/npm", "/nodejs/lib/node_modules/npm"]) {
  if (fs.existsSync(p)) bad.push(p);
}
if (bad.length) { console.error("must not ship:\n  " + bad.join("\n  ")); process.exit(1); }
'
"$engine" run --rm --read-only --user 65532:65532 --cap-drop=ALL "$image" -e "$contents_check" || fail "contents: files that must not ship (listed above)"
ok "no test code, maps, dev dependencies, foreign onnxruntime binaries, package manager"
