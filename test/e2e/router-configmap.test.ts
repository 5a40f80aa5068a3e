/**
 * The router against the real API server: it learns its routes by watching a ConfigMap (with
 * only the permissions the operator will grant it: a least-privilege Role), puts weight changes on
 * the data path without restarts, keeps the last good routes through an invalid document and an
 * API server restart, and publishes its stats into the stats ConfigMap for the operator to read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';

import { restartApiServer } from '../cluster/cluster.js';
import {
  byRevision,
  closeClient,
  load,
  request,
  startBackend,
  startRouter,
  type Backend,
  type RouterProcess,
} from '../../server-image/test/router/harness.js';
import {
  createTestNamespace,
  deleteNamespace,
  kubeConfigWithToken,
  loadKubeConfig,
  serviceAccountToken,
  waitFor,
} from './kube.js';

const slow = 240_000;
const ROUTES = 'digits-routes';
const STATS = 'digits-routes-stats';

let kc: KubeConfig;
let core: CoreV1Api;
let ns: string;
let stable: Backend;
let canary: Backend;
let router: RouterProcess | undefined;

function routes(generation: number, canaryWeight: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    generation,
    revisions: [
      { name: 'canary', url: canary.url, weight: canaryWeight },
      { name: 'stable', url: stable.url, weight: 100 - canaryWeight },
    ],
    ...extra,
  });
}

async function writeRoutes(text: string): Promise<void> {
  await core.replaceNamespacedConfigMap({
    name: ROUTES,
    namespace: ns,
    body: { metadata: { name: ROUTES }, data: { 'routes.json': text } },
  });
}

const infer = () =>
  request(`${router!.url}/v2/models/digits/infer`, {
    body: '{"inputs":[]}',
    headers: { 'content-type': 'application/json' },
  });
const generation = async () =>
  (await request(`${router!.url}/v2/health/ready`)).json<{ generation?: number }>().generation;

beforeAll(async () => {
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  ns = await createTestNamespace(kc, 'router');
  stable = await startBackend('stable');
  canary = await startBackend('canary');
  // Exactly what the router needs: watch its routes ConfigMap, write its stats ConfigMap.
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'router' } } });
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: 'router' },
      rules: [
        { apiGroups: [''], resources: ['configmaps'], resourceNames: [ROUTES], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['configmaps'], resourceNames: [STATS], verbs: ['get', 'patch'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'router' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'router' },
      subjects: [{ kind: 'ServiceAccount', name: 'router', namespace: ns }],
    },
  });
  const token = await serviceAccountToken(kc, ns, 'router');
  const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'router-e2e-')), 'kubeconfig');
  fs.writeFileSync(kubeconfig, kubeConfigWithToken(kc, token, 'router').exportConfig(), { mode: 0o600 });
  // Started before its ConfigMap exists: it must wait, not ready, rather than crash.
  router = await startRouter({
    KUBECONFIG: kubeconfig,
    MODELSHIP_ROUTES_CONFIGMAP: ROUTES,
    MODELSHIP_NAMESPACE: ns,
    MODELSHIP_STATS_INTERVAL_MS: '300',
    MODELSHIP_POD_NAME: 'router-e2e',
  });
}, slow);

afterAll(async () => {
  if (router) expect(await router.stop()).toBe(0);
  await stable?.close();
  await canary?.close();
  closeClient();
  if (ns) await deleteNamespace(kc, ns);
}, slow);

it(
  'is not ready until its routes ConfigMap exists, then splits exactly',
  async () => {
    await waitFor(
      'the router to report the missing ConfigMap',
      () => router!.output().includes(`ConfigMap ${ns}/${ROUTES} not found`),
      60_000,
    );
    expect((await request(`${router!.url}/v2/health/ready`)).status).toBe(503);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: ROUTES }, data: { 'routes.json': routes(1, 10) } },
    });
    await waitFor('ready on generation 1', async () => (await generation()) === 1, 60_000);
    expect(byRevision(await load(1000, 16, () => infer()))).toEqual({ canary: 100, stable: 900 });
  },
  slow,
);

it(
  'puts a weight change on the data path through the watch (rollback to 100% stable)',
  async () => {
    await writeRoutes(routes(2, 0));
    await waitFor(
      'all traffic on stable',
      async () => byRevision(await load(20, 4, () => infer())).stable === 20,
      60_000,
    );
    expect(byRevision(await load(300, 8, () => infer()))).toEqual({ stable: 300 });
    await writeRoutes(routes(3, 50));
    await waitFor('generation 3', async () => (await generation()) === 3, 60_000);
    expect(byRevision(await load(200, 8, () => infer()))).toEqual({ canary: 100, stable: 100 });
  },
  slow,
);

it(
  'keeps the last good routes when the ConfigMap holds an invalid document',
  async () => {
    await writeRoutes(routes(4, 50, { mirror: { revision: 'nowhere', percent: 10 } }));
    await waitFor(
      'the rejection in the log',
      () => router!.output().includes('mirror.revision: must name a listed revision'),
      60_000,
    );
    expect(router!.output()).toContain('keeping generation 3');
    expect(await generation()).toBe(3);
    expect(byRevision(await load(100, 4, () => infer()))).toEqual({ canary: 50, stable: 50 });
  },
  slow,
);

it(
  'keeps serving through an API server restart and picks up changes made after it',
  async () => {
    const restarted = restartApiServer();
    // While the API server is down or coming back, the data path carries on with the last routes.
    const during = await load(200, 4, () => infer());
    expect(during.every((r) => r.status === 200)).toBe(true);
    await restarted;
    await writeRoutes(routes(5, 100));
    await waitFor('generation 5 after the restart', async () => (await generation()) === 5, 120_000);
    expect(byRevision(await load(50, 4, () => infer()))).toEqual({ canary: 50 });
  },
  slow,
);

it(
  'publishes cumulative per-revision stats into the stats ConfigMap',
  async () => {
    const before = await load(30, 3, () => infer());
    expect(before.every((r) => r.status === 200)).toBe(true);
    const doc = await waitFor(
      'stats for generation 5 in the stats ConfigMap',
      async () => {
        const cm = await core.readNamespacedConfigMap({ name: STATS, namespace: ns });
        const text = cm.data?.['router-e2e.json'];
        const parsed = text
          ? (JSON.parse(text) as {
              routesGeneration: number;
              pod: string;
              startTime: string;
              revisions: Record<string, { live: { requests: number; errors: number } }>;
            })
          : undefined;
        return parsed && parsed.routesGeneration === 5 && parsed.revisions.canary.live.requests >= 80
          ? parsed
          : undefined;
      },
      60_000,
    );
    expect(doc.pod).toBe('router-e2e');
    expect(Number.isNaN(Date.parse(doc.startTime))).toBe(false);
    expect(doc.revisions.canary.live.errors).toBe(0);
    // The published counts are the router's own: everything this file sent, split as asserted above.
    const local = (await request(`${router!.metricsUrl}/router/stats`)).json<{
      revisions: Record<string, { live: { requests: number } }>;
    }>();
    expect(doc.revisions.stable.live.requests).toBeLessThanOrEqual(local.revisions.stable.live.requests);
    expect(doc.revisions.stable.live.requests).toBeGreaterThanOrEqual(900 + 300 + 100 + 50);
  },
  slow,
);
