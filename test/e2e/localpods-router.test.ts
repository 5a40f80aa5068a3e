/**
 * The builtin canary router run by the local pod runner on the real control plane: the operator's
 * own router objects (routes ConfigMap, stats ConfigMap, ServiceAccount + least-privilege Role,
 * router Deployment, apex Service) in front of two revision Deployments of tiny.onnx, built by the
 * operator's builders and applied by hand (no operator runs here). The router pods reach the
 * revision Services by their cluster DNS names and the API server with their own token.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { CoreV1Api } from '@kubernetes/client-node';

import type { ModelDeployment } from '../../operator/src/api/types.js';
import { deploymentFor } from '../../operator/src/desired/deployment.js';
import { revisionServiceFor } from '../../operator/src/desired/service.js';
import type { KubeObject } from '../../operator/src/desired/types.js';
import type { RevisionPlan } from '../../operator/src/rollout/plan.js';
import { revisionOfTemplate, templateOf } from '../../operator/src/rollout/revision.js';
import { builtinRouter } from '../../operator/src/traffic/builtin.js';
import { statsConfigMapName } from '../../operator/src/traffic/names.js';
import type { RouterStatsDocument } from '../../contract/stats.js';
import { repoRoot } from '../cluster/cluster.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from '../localpods/podspec.js';
import { PodRunner } from '../localpods/runner.js';
import {
  applyYaml,
  createTestNamespace,
  deleteNamespace,
  kubeConfigWithToken,
  loadKubeConfig,
  waitFor,
} from './kube.js';

const TIMEOUT = 300_000;
const root = repoRoot();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const TINY_SHA256 = /^([0-9a-f]{64}) {2}tiny\.onnx$/m.exec(
  readFileSync(join(root, 'test/fixtures/models/SHA256SUMS'), 'utf8'),
)![1]!;
const IRIS = JSON.stringify({
  inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }],
});
const options = { serverImage: 'ghcr.io/modelship/modelship:0.1.0' };

let ns: string;
let runner: PodRunner;
let md: ModelDeployment;
let revA: string;
let revB: string;

interface Answer {
  status: number;
  revision: string | undefined;
  labels: unknown;
}

/** One V2 inference through url on a fresh connection (the local Service proxy balances connections). */
function infer(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/v2/models/tiny/infer`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(IRIS) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            outputs?: { name: string; data: unknown[] }[];
          };
          resolve({
            status: res.statusCode ?? 0,
            revision: res.headers['x-modelship-revision'] as string | undefined,
            labels: body.outputs?.find((o) => o.name === 'label')?.data,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(new Error(`POST ${url}/v2/models/tiny/infer: ${err.message}`)));
    req.end(IRIS);
  });
}

/** n sequential inferences; counts per x-modelship-revision, and every answer must be a correct 200. */
async function split(url: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const a = await infer(url);
    expect({ status: a.status, labels: a.labels }).toEqual({ status: 200, labels: [0, 2] });
    counts[a.revision ?? 'none'] = (counts[a.revision ?? 'none'] ?? 0) + 1;
  }
  return counts;
}

/**
 * The operator's objects for a plan, without owner references: no ModelDeployment object exists
 * here, and the garbage collector deletes objects whose owner is gone.
 */
function unowned(objects: KubeObject[]): string {
  return objects
    .map((o) => JSON.stringify({ ...o, metadata: { ...o.metadata, ownerReferences: undefined } }))
    .join('\n---\n');
}

function routerObjects(weightA: number): string {
  return unowned(
    builtinRouter(options).objectsFor(md, {
      weights: [
        { revision: revA, percent: weightA },
        { revision: revB, percent: 100 - weightA },
      ],
    }),
  );
}

beforeAll(async () => {
  ns = await createTestNamespace(kc, 'lprouter');
  const stateDir = join(root, '.state', 'e2e', `localpods-router-${ns}`);
  runner = new PodRunner({
    kc,
    root,
    stateDir,
    mounts: [parseMount('/fixtures=test/fixtures/models', root)],
    repositories: DEFAULT_SERVER_REPOSITORIES,
    namespace: ns,
    log: () => undefined,
  });
  await runner.start();
  md = {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'tiny', namespace: ns, uid: '00000000-0000-0000-0000-000000000001', generation: 1 },
    spec: { model: { uri: 'file:///fixtures/tiny.onnx', sha256: TINY_SHA256, name: 'tiny' }, replicas: 1 },
  } as ModelDeployment;
  // Two revisions of the same model that differ in their server settings, as a canary would.
  const templates = [templateOf(md.spec), templateOf({ ...md.spec, server: { batching: { maxBatchSize: 4 } } })];
  [revA, revB] = templates.map(revisionOfTemplate) as [string, string];
  const revisions: RevisionPlan[] = templates.map((template) => ({
    revision: revisionOfTemplate(template),
    role: 'stable',
    template,
    scale: { replicas: 1 },
  }));
  await applyYaml(
    kc,
    unowned(revisions.flatMap((rev) => [deploymentFor(md, rev, options), revisionServiceFor(md, rev.revision)])),
    ns,
  );
  await applyYaml(kc, routerObjects(75), ns);
}, TIMEOUT);

afterAll(async () => {
  await runner?.stop();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

/** The apex Service's local URL once both router processes answer ready behind it. */
function apexUrl(): Promise<string> {
  return waitFor(
    'two router pods and both revisions ready, apex Service answering',
    async () => {
      const ready = runner.readyPods();
      const url = runner.serviceUrls()[`${ns}/tiny`];
      if (ready.filter((p) => p.startsWith(`${ns}/tiny-router-`)).length < 2 || ready.length < 4 || !url)
        return undefined;
      return (await fetch(`${url}/v2/health/ready`)).status === 200 ? url : undefined;
    },
    240_000,
    500,
  );
}

describe('the builtin router as local processes', () => {
  it(
    'splits requests through the apex Service exactly by weight, reaching the revisions by their cluster DNS names',
    async () => {
      const url = await apexUrl();
      // Both revision Services got their own loopback address, which the router pods resolve them to.
      const addresses = runner.serviceAddresses();
      expect(addresses[`${ns}/tiny-${revA}`]).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(addresses[`${ns}/tiny-${revB}`]).toMatch(/^127\.\d+\.\d+\.\d+$/);
      // The proxy alternates the two routers connection by connection; each splits its 200 exactly 150/50.
      expect(await split(url, 400)).toEqual({ [`tiny-${revA}`]: 300, [`tiny-${revB}`]: 100 });
    },
    TIMEOUT,
  );

  it(
    'moves traffic when the routes ConfigMap changes',
    async () => {
      const url = await apexUrl();
      await applyYaml(kc, routerObjects(0), ns);
      await waitFor(
        'both routers sending every request to revision B',
        async () => (await split(url, 10))[`tiny-${revB}`] === 10,
        60_000,
        200,
      );
      expect(await split(url, 100)).toEqual({ [`tiny-${revB}`]: 100 });
    },
    TIMEOUT,
  );

  it(
    "publishes each router pod's stats into the stats ConfigMap with its own ServiceAccount",
    async () => {
      const routerPods = runner
        .readyPods()
        .filter((p) => p.startsWith(`${ns}/tiny-router-`))
        .map((p) => p.split('/')[1]!);
      expect(routerPods).toHaveLength(2);
      const docs = await waitFor(
        'stats of both router pods counting the requests sent',
        async () => {
          const cm = await core.readNamespacedConfigMap({ name: statsConfigMapName(md), namespace: ns });
          const parsed = routerPods
            .map((pod) => cm.data?.[`${pod}.json`])
            .map((text) => (text ? (JSON.parse(text) as RouterStatsDocument) : undefined));
          const served = (doc: RouterStatsDocument | undefined, rev: string) =>
            doc?.revisions[`tiny-${rev}`]?.live.requests ?? 0;
          // Each router got at least half of the 510+ requests above: 150 on A and 100+ on B.
          return parsed.every((d) => served(d, revA) >= 150 && served(d, revB) >= 100)
            ? (parsed as RouterStatsDocument[])
            : undefined;
        },
        60_000,
        1_000,
      );
      expect(docs.map((d) => d.pod).sort()).toEqual([...routerPods].sort());
      expect(docs.every((d) => Object.values(d.revisions).every((r) => r.live.errors === 0))).toBe(true);

      // The router pods' credentials are their ServiceAccount's: the stats ConfigMap yes, anything else no.
      const podKubeconfig = loadKubeConfig();
      podKubeconfig.loadFromFile(
        join(root, '.state', 'e2e', `localpods-router-${ns}`, ns, routerPods[0]!, 'kubeconfig'),
      );
      expect(podKubeconfig.getCurrentUser()?.name).toBe(`system:serviceaccount:${ns}:tiny-router`);
      const asRouter = kubeConfigWithToken(kc, podKubeconfig.getCurrentUser()!.token!).makeApiClient(CoreV1Api);
      await expect(
        asRouter.readNamespacedConfigMap({ name: statsConfigMapName(md), namespace: ns }),
      ).resolves.toBeDefined();
      await expect(asRouter.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
      await expect(asRouter.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: ns })).rejects.toMatchObject(
        { code: 403 },
      );
    },
    TIMEOUT,
  );
});
