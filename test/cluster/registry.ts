/**
 * The local cluster's image registry: the CNCF distribution registry (built by build-binaries.sh as
 * `registry`) on loopback, plain HTTP, no auth, blobs on the local disk. containerd pulls every image
 * of the real node from it through registry mirrors (hosts.toml files under its `config_path`), so
 * `registry.k8s.io/pause:3.10.1` is really pulled, by containerd, over HTTP, yet no outside registry
 * is ever reached.
 *
 * Layout: an upstream reference keeps its registry host as the first path component in the local
 * registry (`registry.k8s.io/pause:3.10.1` is `127.0.0.1:<port>/registry.k8s.io/pause:3.10.1`), so
 * images of different upstreams never collide, and each mirror is `http://127.0.0.1:<port>/v2/<upstream>`
 * with `override_path`.
 *
 * The pure part (config, command line, references, hosts.toml) is table-tested in registry.test.ts;
 * the rest only runs skopeo/podman or reads what images.sh cached.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import type { ComponentSpec } from './components.js';

/** The registry process, described like the control plane's components (components.ts). */
export interface RegistrySpec extends Omit<ComponentSpec, 'name'> {
  name: 'registry';
}

/** Where one cluster's registry keeps its config, blobs and log. */
export interface RegistryPaths {
  /** distribution's config.yml, written at `up` from registryConfigYaml. */
  config: string;
  /** Filesystem storage root. Kept across `up`s, pushes of unchanged images only check blobs. */
  storage: string;
  log: string;
}

/** The upstream registries whose images the node pulls from the local registry instead. */
export const mirroredRegistries = ['registry.k8s.io', 'ghcr.io'];

/** The images images.sh builds, by the name its `<name>.ref` and `<name>.oci.tar` files carry. */
export const nodeImageNames = ['pause', 'agnhost', 'coredns'] as const;

/** One of the images images.sh builds. */
export type NodeImageName = (typeof nodeImageNames)[number];

/** The registry's files under a cluster state directory. */
export function registryPaths(clusterDir: string): RegistryPaths {
  return {
    config: join(clusterDir, 'registry.yml'),
    storage: join(clusterDir, 'registry'),
    log: join(clusterDir, 'logs', 'registry.log'),
  };
}

/** `127.0.0.1:<port>`: the registry's address, as containerd's mirrors and skopeo's destinations use it. */
export function registryAddress(port: number): string {
  return `127.0.0.1:${port}`;
}

/** The URL that answers 200 once the registry serves (the V2 API base, no auth configured). */
export function registryReadyUrl(port: number): string {
  return `http://${registryAddress(port)}/v2/`;
}

/**
 * distribution's config.yml: loopback only, filesystem storage, deletes allowed (tests may remove
 * what they pushed), no auth, access log on (it shows every pull containerd makes).
 */
export function registryConfigYaml(port: number, storageDir: string): string {
  return `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(storageDir)}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    # Test data: nothing to purge, and no background walk of the storage while tests run.
    uploadpurging:
      enabled: false
http:
  addr: ${registryAddress(port)}
  # Signs upload session state only; fixed so the log has no "generated random secret" warning.
  secret: modelship-local-test-registry
  headers:
    X-Content-Type-Options: [nosniff]
`;
}

/** The registry's command line: `registry serve <config>`, logging to the cluster's logs directory. */
export function registrySpec(binDir: string, paths: RegistryPaths): RegistrySpec {
  return { name: 'registry', bin: join(binDir, 'registry'), args: ['serve', paths.config], log: paths.log };
}

/** An image reference split into registry host, repository path and tag or digest suffix. */
export interface ImageRef {
  /** e.g. `registry.k8s.io`; `docker.io` when the reference names none. */
  registry: string;
  /** e.g. `e2e-test-images/agnhost`; Docker Hub's one-word names get `library/`. */
  repository: string;
  /** `:<tag>` or `@sha256:...`; `:latest` when the reference has neither. */
  suffix: string;
}

/**
 * Splits a reference the way container tools read it (a first component with `.` or `:`, or `localhost`, is a host).
 */
export function parseImageRef(ref: string): ImageRef {
  const at = ref.indexOf('@');
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const slash = base.indexOf('/');
  const first = slash >= 0 ? base.slice(0, slash) : '';
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasHost ? first : 'docker.io';
  let path = hasHost ? base.slice(slash + 1) : base;
  // The tag's colon is the last one after the last slash (a host's port colon comes before it).
  const colon = path.lastIndexOf(':');
  let suffix = at >= 0 ? ref.slice(at) : ':latest';
  if (colon > path.lastIndexOf('/')) {
    if (at < 0) suffix = path.slice(colon);
    path = path.slice(0, colon);
  }
  if (!path || !suffix.slice(1)) throw new Error(`parse image reference "${ref}": no repository or tag`);
  const repository = registry === 'docker.io' && !path.includes('/') ? `library/${path}` : path;
  return { registry, repository, suffix };
}

/**
 * Where an upstream image lives in the local registry: `registry.k8s.io/pause:3.10.1` →
 * `127.0.0.1:<port>/registry.k8s.io/pause:3.10.1` (the path containerd's override_path mirror asks for).
 */
export function localImageRef(ref: string, registry: string): string {
  const { registry: upstream, repository, suffix } = parseImageRef(ref);
  return `${registry}/${upstream}/${repository}${suffix}`;
}

/** One file under containerd's registry `config_path`. */
export interface HostsFile {
  /** Relative to config_path: `<upstream>/hosts.toml`. */
  path: string;
  content: string;
}

/**
 * containerd hosts.toml files that send pulls of each upstream registry to the local one. The local
 * registry is both the `[host]` mirror and the `server` (the fallback after every host), never the
 * upstream, so nothing is pulled from the outside: an image missing locally fails at once with
 * "not found" instead of a network timeout. containerd 1.6 rejects a file without a `[host]` table
 * ("invalid `host` tree") and then silently falls back to the upstream, hence both.
 */
export function hostsTomlFiles(upstreams: readonly string[], registry: string): HostsFile[] {
  return upstreams.map((upstream) => {
    const url = `http://${registry}/v2/${upstream}`;
    return {
      path: `${upstream}/hosts.toml`,
      content: `# ${upstream} images come from the local test registry only (test/cluster/registry.ts).
server = "${url}"
override_path = true
capabilities = ["pull", "resolve"]

[host."${url}"]
  capabilities = ["pull", "resolve"]
  override_path = true
`,
    };
  });
}

/** An image images.sh cached: its upstream reference and its OCI archive. */
export interface NodeImage {
  ref: string;
  archive: string;
}

/** The image images.sh built as `name` (reads `<binDir>/images/<name>.ref`; the archive is `<name>.oci.tar`). */
export function readNodeImage(binDir: string, name: NodeImageName): NodeImage {
  const dir = join(binDir, 'images');
  let ref: string;
  try {
    ref = readFileSync(join(dir, `${name}.ref`), 'utf8').trim();
  } catch (err) {
    throw new Error(`read node image ${name}: ${(err as Error).message} (run test/cluster/images.sh ${name})`, {
      cause: err,
    });
  }
  return { ref, archive: join(dir, `${name}.oci.tar`) };
}

/** Writes hostsTomlFiles under dir (containerd's CRI `registry.config_path`). */
export function writeHostsTomls(dir: string, upstreams: readonly string[], registry: string): void {
  for (const f of hostsTomlFiles(upstreams, registry)) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content);
  }
}

async function run(what: string, cmd: string, args: string[]): Promise<void> {
  try {
    await promisify(execFile)(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${what}: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/**
 * Pushes an OCI archive (images.sh's) to the local registry as the upstream reference `ref`
 * (`registry.k8s.io/pause:3.10.1` lands at `<registry>/registry.k8s.io/pause:3.10.1`). Blobs are
 * copied as they are, so the manifest digest is the archive's.
 */
export async function pushImageArchive(archive: string, registry: string, ref: string): Promise<void> {
  const dest = localImageRef(ref, registry);
  // --insecure-policy: both ends are ours, no need for the host's /etc/containers/policy.json.
  await run(`push image archive ${archive} to ${dest}`, 'skopeo', [
    '--insecure-policy',
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    `oci-archive:${archive}`,
    `docker://${dest}`,
  ]);
}

/**
 * Pushes an image from podman's local store (e.g. `make image`'s product image, `localRef`) to the
 * local registry as the upstream reference `ref` (e.g. `ghcr.io/modelship/modelship:dev`).
 */
export async function pushLocalImage(localRef: string, registry: string, ref: string): Promise<void> {
  const dest = localImageRef(ref, registry);
  await run(`push local image ${localRef} to ${dest}`, 'podman', [
    'push',
    '--quiet',
    '--tls-verify=false',
    localRef,
    `docker://${dest}`,
  ]);
}

/**
 * Pushes images.sh's archives (by default all of pause, agnhost, coredns) to the local registry, as their upstream
 * references.
 */
export async function pushNodeImages(
  binDir: string,
  registry: string,
  names: readonly NodeImageName[] = nodeImageNames,
): Promise<NodeImage[]> {
  const images = names.map((n) => readNodeImage(binDir, n));
  for (const img of images) await pushImageArchive(img.archive, registry, img.ref);
  return images;
}
