/**
 * The operator end to end on the real control plane: a real operator process (running as a
 * ServiceAccount with exactly the chart's RBAC) reconciles the examples into Deployments,
 * Services, HPAs and PDBs; kwok makes the pods Ready; status, drift repair, garbage collection and
 * a quiet steady state are checked the way a user would see them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type V1ConfigMap,
  type V1Deployment,
} from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { auditEvents, repoRoot } from '../cluster/cluster.js';
import { applyYaml, loadKubeConfig, waitFor } from './kube.js';
import { readMd } from './md.js';
import {
  operatorUser,
  operatorWrites,
  startOperatorInNamespace,
  stopOperatorInNamespace,
  type OperatorProcess,
} from './operator.harness.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 300_000;

const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const hpas = kc.makeApiClient(AutoscalingV2Api);
const policy = kc.makeApiClient(PolicyV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

interface MD {
  metadata: { name: string; uid: string; generation: number };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string }[];
    stable?: { revision: string; readyReplicas: number };
  };
}

let ns: string;
let op: OperatorProcess;

function example(file: string): Record<string, unknown> & { spec: Record<string, unknown> } {
  return parse(readFileSync(join(repoRoot(), 'examples', file), 'utf8'));
}

const getMd = (name: string): Promise<MD> => readMd(custom, ns, name);

/** Waits for Ready=True at the current generation and returns the ModelDeployment. */
async function waitReady(name: string, what = `ModelDeployment ${name} Ready at its generation`): Promise<MD> {
  return waitFor(
    what,
    async () => {
      const md = await getMd(name);
      const ready = md.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && md.status?.observedGeneration === md.metadata.generation ? md : undefined;
    },
    180_000,
    500,
  );
}

/** The router's routes as [revision Service, weight] pairs. */
function routesOf(cm: V1ConfigMap): [string, number][] {
  const routes = JSON.parse(cm.data!['routes.json']!) as { revisions: { name: string; weight: number }[] };
  return routes.revisions.map((r) => [r.name, r.weight]);
}

async function deploymentsOf(name: string): Promise<V1Deployment[]> {
  return (await apps.listNamespacedDeployment({ namespace: ns, labelSelector: `modelship.dev/deployment=${name}` }))
    .items;
}

beforeAll(async () => {
  ({ ns, op } = await startOperatorInNamespace(kc, 'operator'));
}, TIMEOUT);

afterAll(async () => {
  const code = await stopOperatorInNamespace(kc, { ns, op });
  // A clean SIGTERM exit is part of the contract (graceful shutdown).
  expect(code).toBe(0);
}, TIMEOUT);

describe('operator on the local control plane', () => {
  it(
    'turns examples/digits.yaml into a Deployment, Services and a PDB, and reports Ready',
    async () => {
      await applyYaml(kc, readFileSync(join(repoRoot(), 'examples/digits.yaml'), 'utf8'), ns);
      const md = await waitReady('digits');
      const rev = md.status!.stable!.revision;
      expect(md.status!.stable!.readyReplicas).toBe(2);

      const deployments = await deploymentsOf('digits');
      expect(deployments.map((d) => d.metadata!.name).sort()).toEqual([`digits-${rev}`, 'digits-router']);
      const d = deployments.find((x) => x.metadata!.name === `digits-${rev}`)!;
      expect(d.spec!.replicas).toBe(2);
      expect(d.metadata!.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ModelDeployment', name: 'digits', uid: md.metadata.uid, controller: true }),
      ]);
      const pod = d.spec!.template.spec!;
      const container = pod.containers[0]!;
      expect(container.image).toBe('ghcr.io/modelship/modelship:e2e');
      expect(container.resources?.requests).toEqual({ cpu: '250m', memory: '256Mi' });
      expect(container.resources?.limits).toEqual({ memory: '512Mi' });
      expect(container.readinessProbe).toBeDefined();
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      // The pod verifies the model digest the user wrote.
      expect(JSON.stringify(container.env)).toContain((example('digits.yaml').spec.model as { sha256: string }).sha256);

      const services = (
        await core.listNamespacedService({ namespace: ns, labelSelector: 'modelship.dev/deployment=digits' })
      ).items;
      expect(services.map((s) => s.metadata!.name).sort()).toEqual(['digits', `digits-${rev}`]);
      const pdbs = (
        await policy.listNamespacedPodDisruptionBudget({
          namespace: ns,
          labelSelector: 'modelship.dev/deployment=digits',
        })
      ).items;
      expect(pdbs.map((p) => p.metadata!.name).sort()).toEqual([`digits-${rev}`, 'digits-router']);
      // The apex Service fronts the router, whose routes send everything to the one revision.
      const apex = await core.readNamespacedService({ namespace: ns, name: 'digits' });
      expect(apex.spec!.selector).toEqual({
        'modelship.dev/deployment': 'digits',
        'app.kubernetes.io/component': 'router',
      });
      expect(routesOf(await core.readNamespacedConfigMap({ namespace: ns, name: 'digits-routes' }))).toEqual([
        [`digits-${rev}`, 100],
      ]);

      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: `modelship.dev/revision=${rev}` }))
        .items;
      expect(
        pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
      ).toHaveLength(2);
    },
    TIMEOUT,
  );

  it(
    'gives an autoscaled example an HPA and leaves replicas to it',
    async () => {
      await applyYaml(kc, readFileSync(join(repoRoot(), 'examples/digits-autoscaling.yaml'), 'utf8'), ns);
      const md = await waitReady('digits-autoscaled');
      const rev = md.status!.stable!.revision;
      const hpa = await hpas.readNamespacedHorizontalPodAutoscaler({ namespace: ns, name: `digits-autoscaled-${rev}` });
      expect(hpa.spec).toMatchObject({
        minReplicas: 2,
        maxReplicas: 10,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `digits-autoscaled-${rev}` },
      });
      expect(JSON.stringify(hpa.spec!.metrics)).toContain('"averageUtilization":60');
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: `digits-autoscaled-${rev}` });
      const ours = d.metadata!.managedFields!.filter((f) => f.manager === 'modelship');
      expect(ours.length).toBeGreaterThan(0);
      // The operator's managed fields must not include spec.replicas: the HPA owns it.
      expect(ours.some((f) => JSON.stringify(f.fieldsV1).includes('"f:replicas"'))).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'follows a replicas change on the same revision, and a resources change with a new revision',
    async () => {
      const before = await getMd('digits');
      const rev = before.status!.stable!.revision;
      const doc = example('digits.yaml');
      doc.spec.replicas = 3;
      await applyYaml(kc, stringify(doc), ns);
      await waitFor(
        'Deployment scaled to 3',
        async () =>
          (await apps.readNamespacedDeployment({ namespace: ns, name: `digits-${rev}` })).spec!.replicas === 3,
        120_000,
        500,
      );
      const scaled = await waitReady('digits');
      expect(scaled.status!.stable!.revision).toBe(rev);

      // Without a router process (kwok runs no containers) nothing can be analysed: replace at once.
      doc.spec.rollout = { strategy: 'Replace' };
      (doc.spec.server as { resources: { requests: Record<string, string> } }).resources.requests.cpu = '300m';
      await applyYaml(kc, stringify(doc), ns);
      const moved = await waitFor(
        'a new stable revision',
        async () => {
          const md = await getMd('digits');
          return md.status?.stable?.revision !== rev &&
            md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
            md.status?.observedGeneration === md.metadata.generation
            ? md
            : undefined;
        },
        180_000,
        500,
      );
      const next = moved.status!.stable!.revision;
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: `digits-${next}` });
      expect(d.spec!.template.spec!.containers[0]!.resources!.requests).toEqual({ cpu: '300m', memory: '256Mi' });
      expect(d.spec!.replicas).toBe(3);
      // The routes now send everything to the new revision; the old one stays warm at 0%.
      expect(routesOf(await core.readNamespacedConfigMap({ namespace: ns, name: 'digits-routes' }))).toEqual([
        [`digits-${next}`, 100],
        [`digits-${rev}`, 0],
      ]);
    },
    TIMEOUT,
  );

  it(
    'recreates a hand-deleted child and restores a hand-edited field it owns',
    async () => {
      const md = await waitReady('digits');
      const rev = md.status!.stable!.revision;
      const old = await core.readNamespacedService({ namespace: ns, name: `digits-${rev}` });
      await core.deleteNamespacedService({ namespace: ns, name: `digits-${rev}` });
      await waitFor(
        'revision Service recreated',
        async () => {
          const s = await core.readNamespacedService({ namespace: ns, name: `digits-${rev}` });
          return s.metadata!.uid !== old.metadata!.uid;
        },
        120_000,
        500,
      );

      // Someone scales the Deployment by hand (an Update by another manager, as kubectl scale does).
      const name = `digits-${rev}`;
      const d = await apps.readNamespacedDeployment({ namespace: ns, name });
      d.spec!.replicas = 7;
      await apps.replaceNamespacedDeployment({ namespace: ns, name, body: d, fieldManager: 'kubectl-edit' });
      await waitFor(
        'replicas restored to 3',
        async () => (await apps.readNamespacedDeployment({ namespace: ns, name })).spec!.replicas === 3,
        120_000,
        500,
      );
    },
    TIMEOUT,
  );

  it('makes zero writes while idle for a minute', async () => {
    await waitReady('digits');
    await waitReady('digits-autoscaled');
    // Let the last status and watch events settle: the write count must be still for 10 s first.
    let last = -1;
    await waitFor(
      'operator writes settled',
      async () => {
        const now = await operatorWrites(op);
        const settled = now === last;
        last = now;
        return settled;
      },
      120_000,
      10_000,
    );
    const since = new Date();
    const before = await operatorWrites(op);
    const reconcilesBefore = await op.metric('modelship_reconcile_total');
    await new Promise((r) => setTimeout(r, 60_000));
    expect(await operatorWrites(op)).toBe(before);
    expect(auditEvents({ user: operatorUser(ns), since })).toEqual([]);
    // It was not idle because it stopped working: informer events still reconcile (the HPA
    // controller and the kwok pods update status), they just find nothing to write.
    expect(await op.metric('modelship_reconcile_total', (l) => l.result === 'error')).toBe(0);
    expect(reconcilesBefore).toBeGreaterThan(0);
  }, 240_000);

  it(
    'leaves nothing behind when a ModelDeployment is deleted (garbage collection)',
    async () => {
      await custom.deleteNamespacedCustomObject({
        group: 'modelship.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'modeldeployments',
        name: 'digits',
      });
      await waitFor(
        'everything owned by digits gone',
        async () => {
          const sel = { namespace: ns, labelSelector: 'modelship.dev/deployment=digits' };
          const counts = await Promise.all([
            apps.listNamespacedDeployment(sel).then((l) => l.items.length),
            core.listNamespacedService(sel).then((l) => l.items.length),
            policy.listNamespacedPodDisruptionBudget(sel).then((l) => l.items.length),
            core.listNamespacedPod(sel).then((l) => l.items.length),
            core.listNamespacedConfigMap(sel).then((l) => l.items.length),
            core.listNamespacedServiceAccount(sel).then((l) => l.items.length),
            rbac.listNamespacedRole(sel).then((l) => l.items.length),
            rbac.listNamespacedRoleBinding(sel).then((l) => l.items.length),
          ]);
          return counts.every((c) => c === 0);
        },
        180_000,
        1000,
      );
      // The other ModelDeployment is untouched.
      expect(
        (await deploymentsOf('digits-autoscaled')).map((d) => d.metadata!.name).filter((n) => n?.endsWith('-router')),
      ).toEqual(['digits-autoscaled-router']);
      expect((await deploymentsOf('digits-autoscaled')).length).toBe(2);
    },
    TIMEOUT,
  );
});
