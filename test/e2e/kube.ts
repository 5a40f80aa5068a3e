/**
 * Small helpers for e2e tests against the local control plane (started by test/cluster/globalSetup.ts):
 *
 *   const kc = loadKubeConfig();                       // admin kubeconfig of the test cluster
 *   const ns = await createTestNamespace(kc, 'smoke');  // unique per test file; deleteNamespace() after
 *   await applyYaml(kc, yamlText, ns);                  // server-side apply of one or more documents
 *   await waitFor('deployment available', async () => ..., 120_000);
 *
 * Cluster internals (audit log, restartApiServer) come from test/cluster/cluster.ts.
 */
import { randomBytes } from 'node:crypto';

import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';

import { clusterInfoPath, readClusterInfo, type ClusterInfo } from '../cluster/cluster.js';
import { waitFor } from '../cluster/wait.js';

export { waitFor };

/** Field manager used by applyYaml, so tests' writes are recognisable in managedFields and the audit log. */
export const e2eFieldManager = 'modelship-e2e';

/** The running test cluster (from $MODELSHIP_E2E_CLUSTER_INFO, set by global setup, or `.state/cluster`). */
export function clusterInfo(): ClusterInfo {
  const dir = process.env.MODELSHIP_E2E_CLUSTER_INFO?.replace(/\/cluster\.json$/, '');
  const info = readClusterInfo(dir);
  if (!info)
    throw new Error(
      `read cluster info ${clusterInfoPath(dir)}: no running test cluster (run via the e2e jest project or \`make cluster-up\`)`,
    );
  return info;
}

/** The admin (system:masters) kubeconfig of the test cluster. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.MODELSHIP_E2E_KUBECONFIG ?? clusterInfo().kubeconfig);
  return kc;
}

/** A kubeconfig for the same cluster that authenticates with a bearer token (e.g. a ServiceAccount's). */
export function kubeConfigWithToken(kc: KubeConfig, token: string, user = 'token-user'): KubeConfig {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('build kubeconfig with token: the source kubeconfig has no current cluster');
  const out = new KubeConfig();
  out.loadFromClusterAndUser(cluster, { name: user, token });
  return out;
}

/** Issues a short-lived token for ServiceAccount namespace/name through the TokenRequest API. */
export async function serviceAccountToken(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const res = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  if (!res.status?.token)
    throw new Error(`create token for ServiceAccount ${namespace}/${name}: empty token in response`);
  return res.status.token;
}

/** HTTP status of a failed API call (undefined if err is not an API error). */
export function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The message of a failed API call's Status body (or the error text). */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Errors client-node raises while the API server does not yet serve a kind (e.g. a CRD created just before). */
const notServedYet = /Unrecognized API version and kind|Failed to fetch resource metadata/;

/**
 * Server-side applies every document of yamlText (forcing ownership to e2eFieldManager), setting
 * metadata.namespace to namespace when given and the object has none. Returns the applied objects.
 * A kind that is not served yet (its CRD is earlier in the same YAML) is retried for up to 60 s.
 */
export async function applyYaml(kc: KubeConfig, yamlText: string, namespace?: string): Promise<KubernetesObject[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const doc of loadAllYaml(yamlText) as KubernetesObject[]) {
    if (!doc?.kind) continue;
    const obj = { ...doc, metadata: { ...doc.metadata } };
    if (namespace && !obj.metadata.namespace) obj.metadata.namespace = namespace;
    const where = `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        applied.push(
          await client.patch(obj, undefined, undefined, e2eFieldManager, true, PatchStrategy.ServerSideApply),
        );
        break;
      } catch (err) {
        const message = errorMessage(err);
        if (!notServedYet.test(message) || Date.now() >= deadline)
          throw new Error(`apply ${where}: ${message}`, { cause: err });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
  return applied;
}

/**
 * Creates a namespace with a unique name (`e2e-<prefix>-<random>`) and waits for its `default`
 * ServiceAccount, so pods can be created in it right away. Delete it with deleteNamespace.
 */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `e2e-${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'modelship.io/e2e': 'true' } } } });
  await waitFor(
    `ServiceAccount ${name}/default`,
    () => core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true),
    60_000,
  );
  return name;
}

/** Deletes a test namespace (the namespace controller removes everything in it); a missing one is fine. */
export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name });
  } catch (err) {
    if (statusCode(err) !== 404) throw new Error(`delete Namespace ${name}: ${errorMessage(err)}`, { cause: err });
  }
}
