/**
 * `traffic.router: gateway-api` on a real API server with the Gateway API CRDs installed
 * (v1.6.3, standard channel: test/cluster/gateway-api-install.ts): the real operator, as a
 * ServiceAccount with exactly the chart's RBAC, realises each rollout as an HTTPRoute the API
 * server accepts (schema and CEL), whose backendRefs follow the plan: a shadow with a
 * RequestMirror filter, the steps, promotion, a fixed weight and a promote action. No router
 * Deployment; the apex Service selects the stable revision's pods.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { auditEvents, repoRoot } from '../cluster/cluster.js';
import { installGatewayApiCrds } from '../cluster/gateway-api-install.js';
import {
  applyYaml,
  clusterInfo,
  createTestNamespace,
  deleteNamespace,
  errorMessage,
  loadKubeConfig,
  statusCode,
  waitFor,
} from './kube.js';
import { readMd } from './md.js';
import {
  installCrd,
  operatorKubeconfig,
  operatorUser,
  startOperator,
  type OperatorProcess,
} from './operator.harness.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 300_000;
const NAME = 'digits-gw';
const GATEWAY = 'public';

const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  port: number;
  weight: number;
}

interface HttpRoute {
  metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
  spec: {
    parentRefs: { group?: string; kind?: string; name: string }[];
    rules: {
      backendRefs: BackendRef[];
      filters?: { type: string; requestMirror?: { backendRef: { name: string }; percent?: number } }[];
    }[];
  };
}

interface MD {
  metadata: { generation: number; annotations?: Record<string, string> };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string }[];
    stable?: { revision: string };
    canary?: { revision: string; phase: string; weight: number; reason?: string };
    lastAction?: string;
    history?: { revision: string; outcome: string }[];
  };
}

/** What a test sees of the route at one moment: weight per revision Service, and the mirror. */
interface RouteView {
  weights: Record<string, number>;
  mirror?: { to: string; percent: number };
}

let ns: string;
let op: OperatorProcess;

/** A digits model from examples/models, with the digest its SHA256SUMS records. */
function model(file: string): { uri: string; sha256: string; name: string } {
  const sums = readFileSync(join(repoRoot(), 'examples/models/SHA256SUMS'), 'utf8');
  const sha256 = new RegExp(`^([0-9a-f]{64}) {2}${file.replace('.', '\\.')}$`, 'm').exec(sums)?.[1];
  if (!sha256) throw new Error(`read examples/models/SHA256SUMS: no digest for ${file}`);
  return { uri: `file:///models/${file}`, sha256, name: 'digits' };
}

function mdYaml(file: string, rollout: Record<string, unknown>, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: NAME, annotations },
    spec: {
      model: model(file),
      replicas: 1,
      rollout: { retainPreviousSeconds: 600, ...rollout },
      traffic: { router: 'gateway-api', gatewayRef: { name: GATEWAY } },
    },
  });
}

const getMd = (): Promise<MD> => readMd(custom, ns, NAME);

async function getRoute(name = NAME): Promise<HttpRoute | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      namespace: ns,
      plural: 'httproutes',
      name,
    })) as HttpRoute;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

function viewOf(route: HttpRoute): RouteView {
  const rule = route.spec.rules[0]!;
  const view: RouteView = { weights: Object.fromEntries(rule.backendRefs.map((b) => [b.name, b.weight])) };
  const mirror = rule.filters?.find((f) => f.type === 'RequestMirror')?.requestMirror;
  if (mirror) view.mirror = { to: mirror.backendRef.name, percent: mirror.percent ?? 100 };
  return view;
}

/** One string per distinct view, whatever the order of the backendRefs. */
function canonical(view: RouteView): string {
  const weights = Object.entries(view.weights).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify({ weights, mirror: view.mirror ?? null });
}

/** Waits for the route to look like `want` and returns it. */
async function waitRoute(what: string, want: RouteView): Promise<HttpRoute> {
  return waitFor(
    `HTTPRoute ${ns}/${NAME}: ${what} (${JSON.stringify(want)})`,
    async () => {
      const route = await getRoute();
      return route && canonical(viewOf(route)) === canonical(want) ? route : undefined;
    },
    180_000,
    200,
  );
}

async function waitMd(what: string, ok: (md: MD) => boolean): Promise<MD> {
  return waitFor(
    `ModelDeployment ${ns}/${NAME}: ${what}`,
    async () => {
      const md = await getMd();
      return md.status?.observedGeneration === md.metadata.generation && ok(md) ? md : undefined;
    },
    180_000,
    300,
  );
}

const ready = (md: MD): boolean =>
  md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const svc = (revision: string): string => `${NAME}-${revision}`;

/** No router objects: the Gateway's implementation splits traffic, not our router. */
async function expectNoRouter(): Promise<void> {
  const deployments = (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata!.name!);
  expect(deployments).not.toContain(`${NAME}-router`);
  expect(deployments.every((d) => /^digits-gw-[0-9a-f]{10}$/.test(d))).toBe(true);
  const configMaps = (await core.listNamespacedConfigMap({ namespace: ns })).items.map((c) => c.metadata!.name!);
  expect(configMaps).not.toContain(`${NAME}-routes`);
}

/** The apex Service selects exactly the pods of the stable revision. */
async function expectApexSelects(revision: string): Promise<void> {
  const apex = await waitFor(
    `Service ${ns}/${NAME} selecting revision ${revision}`,
    async () => {
      const s = await core.readNamespacedService({ name: NAME, namespace: ns });
      return s.spec?.selector?.['modelship.dev/revision'] === revision ? s : undefined;
    },
    60_000,
    300,
  );
  expect(apex.spec!.selector).toEqual({ 'modelship.dev/deployment': NAME, 'modelship.dev/revision': revision });
  const selector = Object.entries(apex.spec!.selector!)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await waitFor(
    `pods selected by Service ${ns}/${NAME}`,
    async () => {
      const items = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
      return items.length > 0 ? items : undefined;
    },
    60_000,
    300,
  );
  for (const pod of pods) expect(pod.metadata!.ownerReferences?.[0]?.name).toMatch(new RegExp(`^${svc(revision)}-`));
}

beforeAll(async () => {
  // Before the operator starts: it caches (and prunes) HTTPRoutes only if the API serves them.
  await installGatewayApiCrds(clusterInfo().kubeconfig);
  await installCrd(kc);
  ns = await createTestNamespace(kc, 'gateway');
  await applyYaml(
    kc,
    [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GatewayClass',
        metadata: { name: `e2e-${ns}` },
        spec: { controllerName: 'modelship.dev/e2e-no-controller' },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: GATEWAY, namespace: ns },
        spec: { gatewayClassName: `e2e-${ns}`, listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }] },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n---\n'),
  );
  op = await startOperator(await operatorKubeconfig(kc, ns), ns);
}, TIMEOUT);

afterAll(async () => {
  await op?.stop();
  if (ns) {
    await deleteNamespace(kc, ns);
    await custom
      .deleteClusterCustomObject({
        group: 'gateway.networking.k8s.io',
        version: 'v1',
        plural: 'gatewayclasses',
        name: `e2e-${ns}`,
      })
      .catch(() => undefined);
  }
}, TIMEOUT);

describe('traffic.router gateway-api', () => {
  let first: string;
  let second: string;

  it(
    'serves the first revision through an HTTPRoute on the named Gateway, without a router',
    async () => {
      const since = new Date();
      await applyYaml(
        kc,
        mdYaml('digits.onnx', {
          steps: [
            { weight: 20, pauseSeconds: 4 },
            { weight: 60, pauseSeconds: 4 },
          ],
        }),
        ns,
      );
      const md = await waitMd('Ready with a stable revision', ready);
      first = md.status!.stable!.revision;
      const route = await waitRoute('all traffic on the first revision', { weights: { [svc(first)]: 100 } });
      expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GATEWAY }]);
      expect(route.spec.rules[0]!.backendRefs).toEqual([
        { group: '', kind: 'Service', name: svc(first), port: expect.any(Number) as number, weight: 100 },
      ]);
      expect(route.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toEqual([`ModelDeployment/${NAME}`]);
      await expectNoRouter();
      await expectApexSelects(first);
      // The chart's RBAC let the operator (its ServiceAccount) write the HTTPRoute itself.
      const writes = auditEvents({
        user: operatorUser(ns),
        resource: 'httproutes',
        verbs: ['create', 'patch', 'update'],
        succeededOnly: true,
        since,
      });
      expect(writes.length).toBeGreaterThan(0);
      expect(op.logs.find((l) => l.msg === 'Gateway API')?.httpRoutes).toMatch(/^served/);
    },
    TIMEOUT,
  );

  it(
    'shadows, then steps 20% and 60%, then promotes: the backendRefs follow the plan',
    async () => {
      await applyYaml(
        kc,
        mdYaml('digits-v2.onnx', {
          shadowFirst: { percent: 50, seconds: 4 },
          steps: [
            { weight: 20, pauseSeconds: 4 },
            { weight: 60, pauseSeconds: 4 },
          ],
        }),
        ns,
      );
      const candidate = await waitMd(
        'a canary',
        (m) => m.status?.canary !== undefined && m.status.canary.revision !== first,
      );
      second = candidate.status!.canary!.revision;
      const seen: string[] = [];
      const record = async (): Promise<void> => {
        const route = await getRoute();
        const view = route && canonical(viewOf(route));
        if (view && seen[seen.length - 1] !== view) seen.push(view);
      };
      const promoted = await waitFor(
        `ModelDeployment ${ns}/${NAME} promoting ${second}`,
        async () => {
          await record();
          const md = await getMd();
          return md.status?.stable?.revision === second && md.status.observedGeneration === md.metadata.generation
            ? md
            : undefined;
        },
        180_000,
        200,
      );
      await waitRoute('promoted: all on the second revision, the first kept warm at 0', {
        weights: { [svc(second)]: 100, [svc(first)]: 0 },
      });
      await record();
      // Every state the plan passes through, in order (a state may be missed only if it lasted less
      // than a poll, which the 4 s pauses rule out), and no state outside the plan: before the
      // shadow, only the stable (alone, or with the warming candidate at 0).
      const shadow = canonical({
        weights: { [svc(first)]: 100, [svc(second)]: 0 },
        mirror: { to: svc(second), percent: 50 },
      });
      const step1 = canonical({ weights: { [svc(first)]: 80, [svc(second)]: 20 } });
      const step2 = canonical({ weights: { [svc(first)]: 40, [svc(second)]: 60 } });
      const done = canonical({ weights: { [svc(second)]: 100, [svc(first)]: 0 } });
      const before = [
        canonical({ weights: { [svc(first)]: 100 } }),
        canonical({ weights: { [svc(first)]: 100, [svc(second)]: 0 } }),
      ];
      expect(seen.filter((s) => ![...before, shadow, step1, step2, done].includes(s))).toEqual([]);
      const order = [shadow, step1, step2, done].map((s) => seen.indexOf(s));
      expect({ seen, order }).toEqual({ seen, order: [...order].sort((a, b) => a - b) });
      expect(order.every((i) => i >= 0)).toBe(true);
      expect(promoted.status!.history?.some((h) => h.revision === second && h.outcome === 'Promoted')).toBe(true);
      await expectNoRouter();
      await expectApexSelects(second);
    },
    TIMEOUT,
  );

  it(
    'holds a fixed weight of 20 (80/20), and a promote action flips the route to 100/0',
    async () => {
      await applyYaml(kc, mdYaml('digits-bad.onnx', { weight: 20, steps: [{ weight: 50, pauseSeconds: 2 }] }), ns);
      const held = await waitMd(
        'a canary held at 20%',
        (m) => m.status?.canary?.weight === 20 && m.status.canary.revision !== second,
      );
      const third = held.status!.canary!.revision;
      await waitRoute('80/20 at the fixed weight', {
        weights: { [svc(second)]: 80, [svc(third)]: 20, [svc(first)]: 0 },
      });
      // The step's pause passes (three times over), but the fixed weight wins: the route stays at 80/20.
      for (const until = Date.now() + 6_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
        expect(viewOf((await getRoute())!).weights).toEqual({ [svc(second)]: 80, [svc(third)]: 20, [svc(first)]: 0 });
      }
      await expectApexSelects(second);

      await applyYaml(
        kc,
        mdYaml(
          'digits-bad.onnx',
          { weight: 20, steps: [{ weight: 50, pauseSeconds: 2 }] },
          { 'modelship.dev/action': `promote:${third}@e2e-gateway` },
        ),
        ns,
      );
      await waitRoute('promoted by the action', { weights: { [svc(third)]: 100, [svc(second)]: 0, [svc(first)]: 0 } });
      const md = await waitMd('the third revision stable', (m) => m.status?.stable?.revision === third);
      expect(md.status!.lastAction).toBe(`promote:${third}@e2e-gateway`);
      await expectNoRouter();
      await expectApexSelects(third);
    },
    TIMEOUT,
  );

  it(
    'the API server enforces the HTTPRoute schema and CEL rules the operator output passes',
    async () => {
      const route = (await getRoute())!;
      const probe = (rule: Record<string, unknown>): Promise<unknown> =>
        custom.createNamespacedCustomObject({
          group: 'gateway.networking.k8s.io',
          version: 'v1',
          namespace: ns,
          plural: 'httproutes',
          dryRun: 'All',
          body: {
            apiVersion: 'gateway.networking.k8s.io/v1',
            kind: 'HTTPRoute',
            metadata: { name: `${NAME}-probe` },
            spec: { parentRefs: route.spec.parentRefs, rules: [rule] },
          },
        });
      const backendRefs = route.spec.rules[0]!.backendRefs;
      const mirror = (extra: Record<string, unknown>): Record<string, unknown> => ({
        backendRefs,
        filters: [
          {
            type: 'RequestMirror',
            requestMirror: { backendRef: { name: backendRefs[0]!.name, port: backendRefs[0]!.port }, ...extra },
          },
        ],
      });
      // What the operator renders for a 50% shadow is accepted...
      await expect(probe(mirror({ percent: 50 }))).resolves.toBeDefined();
      // ...and the same route with a mistake is refused, naming it.
      const refusal = async (rule: Record<string, unknown>): Promise<string> => {
        try {
          await probe(rule);
          return 'accepted';
        } catch (err) {
          return `${statusCode(err)} ${errorMessage(err)}`;
        }
      };
      expect(await refusal(mirror({ percent: 50, fraction: { numerator: 1, denominator: 2 } }))).toMatch(
        /^422 .*Only one of percent or fraction/,
      );
      expect(await refusal(mirror({ percent: 101 }))).toMatch(/^422 .*percent.*100/);
      expect(await refusal({ backendRefs: [{ ...backendRefs[0], weight: -1 }] })).toMatch(/^422 .*weight/);
    },
    TIMEOUT,
  );
});
