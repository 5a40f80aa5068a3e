/**
 * Installs the pinned Gateway API CRDs (gateway-api.ts) into a cluster:
 *
 *   await installGatewayApiCrds(info.kubeconfig);   // or: make cluster-gateway-api
 *
 * The first call downloads the release through the Go module proxy (`go mod download -json`, the
 * only way out of this machine besides package registries; go checks the module against the
 * checksum database and we check its hash against the pin) and caches the channel's manifests as
 * one YAML file beside the control-plane binaries. A cluster that already has the release is only
 * read, so a warm call takes well under a second.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

import {
  ApiException,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';

import { binDir } from './cluster.js';
import {
  GATEWAY_API_CHANNEL,
  GATEWAY_API_MODULE,
  GATEWAY_API_VERSION,
  bundleObjects,
  bundlePath,
  bundleYaml,
  channelDir,
  isEstablished,
  manifestFiles,
  missingFromCluster,
  parseModuleDownload,
  type ManifestObject,
} from './gateway-api.js';
import { waitFor } from './wait.js';

/** Field manager of the install, recognisable in managedFields and the audit log. */
export const gatewayApiFieldManager = 'modelship-gateway-api';

/** What installGatewayApiCrds did. */
export interface GatewayApiInstall {
  version: string;
  channel: string;
  /** The cached bundle file. */
  bundle: string;
  /** Names of the CustomResourceDefinitions, e.g. httproutes.gateway.networking.k8s.io. */
  crds: string[];
  /** False when the cluster already had the release and nothing was written. */
  applied: boolean;
}

/** Options of installGatewayApiCrds. */
export interface GatewayApiInstallOptions {
  /** Cache folder of the bundle (default: the binary cache, $MODELSHIP_BIN_CACHE or ~/.cache/modelship/bin). */
  cacheDir?: string;
  /** Deadline for the download and for the CRDs to become Established (default 180 s). */
  timeoutMs?: number;
  log?: (message: string) => void;
}

/**
 * The cached bundle of the pinned release, downloading it first if needed. Written to a
 * temporary file and renamed, so concurrent callers never read half a file.
 */
export async function gatewayApiBundle(
  cacheDir = binDir(),
  timeoutMs = 180_000,
  log: (m: string) => void = () => {},
): Promise<string> {
  const path = bundlePath(cacheDir);
  if (existsSync(path)) return path;
  log(`downloading ${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION} through the Go module proxy`);
  mkdirSync(cacheDir, { recursive: true });
  let stdout: string;
  try {
    // Run outside any Go module (the cache folder has no go.mod), so no go.mod or go.sum is touched.
    ({ stdout } = await promisify(execFile)(
      'go',
      ['mod', 'download', '-json', `${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION}`],
      {
        cwd: cacheDir,
        timeout: timeoutMs,
        env: { ...process.env, GO111MODULE: 'on', GOFLAGS: '' },
      },
    ));
  } catch (err) {
    // go exits non-zero with the JSON (and its Error field) still on stdout.
    stdout = (err as { stdout?: string }).stdout ?? '';
    if (stdout === '')
      throw new Error(`download ${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION}: ${(err as Error).message}`, {
        cause: err,
      });
  }
  const { dir } = parseModuleDownload(stdout);
  const folder = channelDir(dir);
  const files = manifestFiles(readdirSync(folder)).map((name) => ({
    name,
    text: readFileSync(`${folder}/${name}`, 'utf8'),
  }));
  if (files.length === 0) throw new Error(`read ${folder}: no manifests`);
  const tmp = `${path}.tmp.${process.pid}`;
  writeFileSync(tmp, bundleYaml(GATEWAY_API_VERSION, GATEWAY_API_CHANNEL, files));
  renameSync(tmp, path);
  return path;
}

async function readLive(client: KubernetesObjectApi, want: ManifestObject): Promise<ManifestObject | undefined> {
  try {
    return (await client.read({
      apiVersion: want.apiVersion,
      kind: want.kind,
      metadata: { name: want.metadata.name },
    })) as unknown as ManifestObject;
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return undefined;
    throw new Error(`read ${want.kind} ${want.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Makes the cluster behind kubeconfig serve the pinned Gateway API release (CRDs of the standard
 * channel and its safe-upgrades admission policy): server-side applies the bundle unless every
 * object is already there at this release, then waits until every CRD is Established.
 */
export async function installGatewayApiCrds(
  kubeconfig: string,
  options: GatewayApiInstallOptions = {},
): Promise<GatewayApiInstall> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const log = options.log ?? ((): void => {});
  const bundle = await gatewayApiBundle(options.cacheDir ?? binDir(), timeoutMs, log);
  const wanted = bundleObjects(readFileSync(bundle, 'utf8'));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const client = KubernetesObjectApi.makeApiClient(kc);
  const crds = wanted.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);

  const problems = missingFromCluster(wanted, await Promise.all(wanted.map((w) => readLive(client, w))));
  if (problems.length === 0)
    return { version: GATEWAY_API_VERSION, channel: GATEWAY_API_CHANNEL, bundle, crds, applied: false };

  log(
    `applying Gateway API ${GATEWAY_API_VERSION} (${GATEWAY_API_CHANNEL}): ${problems.length} object(s) to bring in line`,
  );
  for (const obj of wanted) {
    try {
      await client.patch(
        obj as unknown as KubernetesObject,
        undefined,
        undefined,
        gatewayApiFieldManager,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (err) {
      const body =
        err instanceof ApiException ? `: ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}` : '';
      throw new Error(`apply ${obj.kind} ${obj.metadata.name}: ${(err as Error).message}${body}`, { cause: err });
    }
  }
  for (const name of crds) {
    const header = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name } };
    await waitFor(
      `CustomResourceDefinition ${name} Established`,
      async () => isEstablished((await client.read(header)) as unknown as ManifestObject),
      timeoutMs,
    );
  }
  return { version: GATEWAY_API_VERSION, channel: GATEWAY_API_CHANNEL, bundle, crds, applied: true };
}
