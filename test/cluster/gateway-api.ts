/**
 * The Gateway API CRDs for the local cluster, pure part: which release and channel, where its
 * bundle is cached, how `go mod download -json` output is read, which manifests make the bundle,
 * and whether a cluster already has it. The I/O (download, apply, wait) is gateway-api-install.ts.
 *
 * Release v1.6.3, standard channel: HTTPRoute gateway.networking.k8s.io/v1 there already has
 * what the operator renders (weighted backendRefs, a RequestMirror filter with `percent`, whose
 * CEL rule forbids `percent` together with `fraction`), so the experimental channel is not needed.
 * v1.7.0 is newer but its go.mod requires Go 1.27, which the toolchain here (1.26) refuses to download.
 */
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';

/** The pinned release of sigs.k8s.io/gateway-api. */
export const GATEWAY_API_VERSION = 'v1.6.3';

/** The go.sum hash (h1) of that release's module zip: `go mod download` must report exactly this. */
export const GATEWAY_API_SUM = 'h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=';

/** The CRD channel installed: `standard` (see the module comment for why it suffices). */
export const GATEWAY_API_CHANNEL = 'standard';

/** The Go module holding config/crd/<channel>/*.yaml. */
export const GATEWAY_API_MODULE = 'sigs.k8s.io/gateway-api';

/** Annotations every object of a Gateway API release carries. */
export const BUNDLE_VERSION_ANNOTATION = 'gateway.networking.k8s.io/bundle-version';
export const CHANNEL_ANNOTATION = 'gateway.networking.k8s.io/channel';

/** A Kubernetes object as read from YAML or from the API server (only what this file looks at). */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * The cached bundle of one release and channel, beside the cached binaries:
 * `<cache>/gateway-api-<channel>-<version>.yaml`.
 */
export function bundlePath(cacheDir: string, version = GATEWAY_API_VERSION, channel = GATEWAY_API_CHANNEL): string {
  return join(cacheDir, `gateway-api-${channel}-${version}.yaml`);
}

/** What `go mod download -json <module>@<version>` reports for one module. */
export interface ModuleDownload {
  dir: string;
  sum: string;
}

/**
 * Reads the JSON `go mod download -json` prints and checks it is the pinned release: the module
 * directory and hash, or an error naming what went wrong (go's own Error field, a wrong hash).
 */
export function parseModuleDownload(
  stdout: string,
  version = GATEWAY_API_VERSION,
  sum = GATEWAY_API_SUM,
): ModuleDownload {
  const what = `download ${GATEWAY_API_MODULE}@${version}`;
  let parsed: { Path?: string; Version?: string; Dir?: string; Sum?: string; Error?: string };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch (err) {
    throw new Error(`${what}: go printed no JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.Error) throw new Error(`${what}: ${parsed.Error}`);
  if (parsed.Path !== GATEWAY_API_MODULE || parsed.Version !== version) {
    throw new Error(`${what}: go reported ${String(parsed.Path)}@${String(parsed.Version)}`);
  }
  if (parsed.Sum !== sum) throw new Error(`${what}: module hash ${String(parsed.Sum)} is not the pinned ${sum}`);
  if (!parsed.Dir) throw new Error(`${what}: go reported no module directory`);
  return { dir: parsed.Dir, sum: parsed.Sum };
}

/** The folder of a channel's manifests inside the module. */
export function channelDir(moduleDir: string, channel = GATEWAY_API_CHANNEL): string {
  return join(moduleDir, 'config', 'crd', channel);
}

/**
 * The manifests of a channel folder that make the install, in a stable order (kustomization files are not manifests).
 */
export function manifestFiles(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml').sort();
}

/** One YAML stream of the manifests, each headed by a comment naming its source file. */
export function bundleYaml(version: string, channel: string, files: readonly { name: string; text: string }[]): string {
  const parts = files.map(
    (f) => `# ${GATEWAY_API_MODULE}@${version} config/crd/${channel}/${f.name}\n${f.text.trimEnd()}\n`,
  );
  return parts.join('---\n');
}

/**
 * The objects of a bundle, CustomResourceDefinitions first (the admission policy must not gate their first creation).
 */
export function bundleObjects(yamlText: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`parse Gateway API bundle: ${doc.errors[0].message}`);
    const value = doc.toJS() as ManifestObject | null;
    if (value === null || value === undefined) continue;
    if (!value.kind || !value.metadata?.name)
      throw new Error(`parse Gateway API bundle: a document without kind or metadata.name`);
    objects.push(value);
  }
  const isCrd = (o: ManifestObject): number => (o.kind === 'CustomResourceDefinition' ? 0 : 1);
  return objects.sort((a, b) => isCrd(a) - isCrd(b));
}

/** True when a CRD reports Established=True (its kinds are served). */
export function isEstablished(crd: ManifestObject): boolean {
  return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
}

/**
 * What keeps a cluster from having the bundle as it is, one line per object, or [] when it has
 * it all: each object present with the same release and channel annotations, and each CRD
 * Established. `live` holds what the API server returned for each wanted object (undefined: missing).
 */
export function missingFromCluster(
  wanted: readonly ManifestObject[],
  live: readonly (ManifestObject | undefined)[],
): string[] {
  const problems: string[] = [];
  wanted.forEach((want, i) => {
    const have = live[i];
    const name = `${want.kind} ${want.metadata.name}`;
    if (have === undefined) {
      problems.push(`${name}: missing`);
      return;
    }
    for (const key of [BUNDLE_VERSION_ANNOTATION, CHANNEL_ANNOTATION]) {
      const expected = want.metadata.annotations?.[key];
      const actual = have.metadata.annotations?.[key];
      if (expected !== actual) problems.push(`${name}: ${key} is ${String(actual)}, want ${String(expected)}`);
    }
    if (want.kind === 'CustomResourceDefinition' && !isEstablished(have)) problems.push(`${name}: not Established`);
  });
  return problems;
}
