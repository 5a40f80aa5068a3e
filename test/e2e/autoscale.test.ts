/**
 * Request autoscaling and scale to zero end to end on the real control plane: the real operator
 * process (the chart's RBAC) and kwok's pods. The test plays the builtin routers' part of the
 * contract: for each router pod it writes the stats document a router would (contract/stats.ts,
 * with `load`), echoing the routes generation it reads, so the load is exactly what the test says.
 * What it checks is what a user sees: the revision Deployment's replicas, the routes' `hold`,
 * status.scale, the Ready condition and the scale Events.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { parseRoutes, type Routes } from '../../contract/routes.js';
import { statsKey } from '../../contract/keys.js';
import type { RevisionStats, RouterStatsDocument } from '../../contract/stats.js';
import { applyYaml, loadKubeConfig, waitFor } from './kube.js';
import { condition, readMd } from './md.js';
import { startOperatorInNamespace, stopOperatorInNamespace, type OperatorProcess } from './operator.harness.js';

const TIMEOUT = 300_000;
const NAME = 'auto';
const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let ns: string;
let op: OperatorProcess;

/** The routes the router pods read now. */
async function routes(): Promise<Routes> {
  const cm = await core.readNamespacedConfigMap({ name: `${NAME}-routes`, namespace: ns });
  const parsed = parseRoutes(cm.data?.['routes.json'] ?? '');
  if (!parsed.ok) throw new Error(`read routes of ${ns}/${NAME}: ${parsed.error}`);
  return parsed.routes;
}

/**
 * The builtin routers as the operator sees them: every half second, for each running router pod,
 * the stats document of a router that has `concurrency` live requests in flight at `route` (split
 * over the pods), `held` of them held, serving the routes generation in force.
 */
class Routers {
  concurrency = 0;
  held = 0;
  private readonly counters = new Map<string, { busyMs: number; requests: number }>();
  private readonly startTime = new Date().toISOString();
  private last = Date.now();
  private running = true;
  private done: Promise<void> | undefined;

  constructor(private readonly route: string) {}

  start(): void {
    this.done = (async () => {
      while (this.running) {
        await this.publish();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async publish(): Promise<void> {
    const pods = (
      await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/component=router' })
    ).items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    if (pods.length === 0) return;
    const generation = (await routes()).generation;
    const now = Date.now();
    const elapsed = now - this.last;
    this.last = now;
    const data: Record<string, string> = {};
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      const c = this.counters.get(name) ?? { busyMs: 0, requests: 0 };
      const share = this.concurrency / pods.length;
      c.busyMs += share * elapsed;
      // Requests of ~100 ms each: ten a second per request in flight, none held ones.
      c.requests += Math.round(((this.concurrency - this.held) / pods.length) * (elapsed / 100));
      this.counters.set(name, c);
      const traffic = (requests: number): RevisionStats['live'] => ({
        requests,
        errors: 0,
        codes: requests ? { '2xx': requests } : {},
        latencyMs: { le: [100], counts: [requests], count: requests, sum: requests * 100 },
      });
      const doc: RouterStatsDocument = {
        version: 1,
        pod: name,
        startTime: this.startTime,
        time: new Date(now).toISOString(),
        routesGeneration: generation,
        revisions: {
          [this.route]: {
            live: traffic(c.requests),
            mirror: traffic(0),
            load: {
              inFlight: Math.round(share),
              held: Math.round(this.held / pods.length),
              busyMs: c.busyMs,
              heldTotal: 0,
              heldRefused: 0,
            },
          },
        },
        agreement: {},
      };
      data[statsKey(name)] = JSON.stringify(doc);
    }
    await core.patchNamespacedConfigMap({ name: `${NAME}-stats`, namespace: ns, body: { data } }, mergePatch);
  }
}

/** The revision Deployment's replicas as the operator set them. */
async function replicasOf(revision: string): Promise<number | undefined> {
  return (await apps.readNamespacedDeployment({ name: `${NAME}-${revision}`, namespace: ns })).spec?.replicas;
}

/**
 * Waits until the revision Deployment runs `want` replicas and status.scale says so (the status is
 * written after the apply); the last status.scale is in the timeout error.
 */
async function waitForReplicas(revision: string, want: number, timeoutMs = 60_000): Promise<ModelDeployment> {
  let md: ModelDeployment | undefined;
  try {
    return await waitFor(
      `Deployment ${NAME}-${revision} at ${want} replica(s)`,
      async () => {
        md = await readMd<ModelDeployment>(custom, ns, NAME);
        const scale = md.status?.scale?.find((e) => e.revision === revision);
        return ((await replicasOf(revision)) === want && scale?.desiredReplicas === want && md) || undefined;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nstatus.scale: ${JSON.stringify(md?.status?.scale)}`, { cause: err });
  }
}

/** The Normal Events about the ModelDeployment with this reason. */
async function events(reason: string): Promise<string[]> {
  return (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${NAME}` })).items
    .filter((e) => e.type === 'Normal' && e.reason === reason)
    .map((e) => e.message ?? '');
}

beforeAll(async () => {
  ({ ns, op } = await startOperatorInNamespace(kc, 'autoscale'));
}, TIMEOUT);

afterAll(async () => {
  const code = await stopOperatorInNamespace(kc, { ns, op });
  expect(code).toBe(0);
}, TIMEOUT);

describe('request autoscaling and scale to zero', () => {
  it(
    'follows the load up and down, scales to zero when idle, and starts again at once for a held request',
    async () => {
      const spec: ModelDeploymentSpec = {
        model: { uri: 'file:///models/digits.onnx', sha256: 'a'.repeat(64) },
        autoscaling: {
          minReplicas: 0,
          maxReplicas: 5,
          targetConcurrency: 2,
          scaleDownWindowSeconds: 3,
          idleSeconds: 8,
          activationTimeoutSeconds: 30,
        },
        traffic: { routerAutoscaling: { maxReplicas: 3 } },
      };
      await applyYaml(
        kc,
        JSON.stringify({
          apiVersion: 'modelship.dev/v1alpha1',
          kind: 'ModelDeployment',
          metadata: { name: NAME },
          spec,
        }),
        ns,
      );

      // A new ModelDeployment starts at one pod although minReplicas is 0: Ready means it loaded.
      const ready = await waitFor(
        'ModelDeployment Ready',
        async () => {
          const md = await readMd<ModelDeployment>(custom, ns, NAME);
          return condition(md, 'Ready')?.status === 'True' ? md : undefined;
        },
        120_000,
        500,
      );
      const revision = ready.status!.stable!.revision;
      expect(await replicasOf(revision)).toBe(1);
      expect(ready.status?.scale?.[0]).toMatchObject({ revision, role: 'stable', desiredReplicas: 1 });
      const routerDeployment = await apps.readNamespacedDeployment({ name: `${NAME}-router`, namespace: ns });
      expect(routerDeployment.spec?.replicas).toBeGreaterThanOrEqual(1); // the HPA's, not ours
      expect(await routes()).toMatchObject({ statsIntervalMs: 1000, holdTimeoutMs: 30_000 });

      const routers = new Routers(`${NAME}-${revision}`);
      routers.start();
      try {
        // 7 in flight against 2 per pod: 4 pods.
        routers.concurrency = 7;
        let md = await waitForReplicas(revision, 4);
        expect(md.status?.scale?.[0]).toMatchObject({ desiredReplicas: 4, reason: 'Load' });
        expect(md.status?.scale?.[0]?.message).toMatch(/in flight against a target of 2 per pod/);
        await waitFor('a ScaledUp Event', async () => (await events('ScaledUp')).length > 0 || undefined, 10_000, 250);
        expect((await events('ScaledUp'))[0]).toMatch(new RegExp(`^revision ${revision}: 1 → 4 replica\\(s\\): load`));

        // 3 in flight: 2 pods, once the 3 s scale-down window has passed.
        routers.concurrency = 3;
        await waitForReplicas(revision, 2);
        expect((await events('ScaledDown')).length).toBeGreaterThan(0);

        // Nothing for idleSeconds: the route holds first, then zero once the routers have the hold.
        routers.concurrency = 0;
        md = await waitForReplicas(revision, 0, 90_000);
        expect((await routes()).revisions[0]).toMatchObject({ name: `${NAME}-${revision}`, hold: true });
        expect((await events('ScaledToZero')).length).toBeGreaterThan(0);
        md = await waitFor(
          'Ready at zero',
          async () => {
            const m = await readMd<ModelDeployment>(custom, ns, NAME);
            return condition(m, 'Ready')?.reason === 'ScaledToZero' ? m : undefined;
          },
          30_000,
          250,
        );
        expect(condition(md, 'Ready')?.status).toBe('True');

        // A held request: started at once, and the hold drops once a pod is ready.
        routers.concurrency = 3;
        routers.held = 3;
        await waitForReplicas(revision, 2, 30_000);
        expect((await events('Activating'))[0]).toMatch(new RegExp(`^revision ${revision}: 0 → 2 replica\\(s\\)`));
        routers.held = 0;
        await waitFor(
          'the route without hold once a pod is ready',
          async () => (await routes()).revisions[0]?.hold === undefined || undefined,
          60_000,
          250,
        );
      } finally {
        await routers.stop();
      }
    },
    TIMEOUT,
  );
});
