/**
 * Request autoscaling and scale to zero on real pods (issue 15): the chart's operator sizes the
 * revisions from the builtin routers' own figures, the routers hold requests while a revision is at
 * zero, the kubelet starts and stops the server pods, kube-proxy routes. Driven through the apex
 * Service by a load ramp (ramp.ts) of digit test rows, every answer checked. What is asserted is
 * what a user notices: replicas rising with the load and coming back, no failed or wrong answer while
 * they move, no pod left when idle (also for a ModelDeployment that never had a request), the first
 * request after zero answered, and a canary promoted
 * only onto as many pods as the stable had. Times are written to .state/e2e-pods/measured.log, never
 * asserted (the cold start is measured in bench/coldstart).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { repoRoot } from '../cluster/cluster.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../e2e/kube.js';
import { digitSamples } from '../e2e/load.js';
import { condition, percentOf, promotedFrom, routeOf, statusGist } from '../e2e/md.js';
import { Mds, installOnce, model, serviceUrl, stopPortForwards } from './pods.js';
import { Ramp, countOutcomes, sendSample, type RampOutcome } from './ramp.js';

const TIMEOUT = 900_000;
const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const stateDir = join(repoRoot(), '.state', 'e2e-pods');

let ns: string;
let mds: Mds;
const running = new Set<Ramp>();

function measured(line: string): void {
  mkdirSync(stateDir, { recursive: true });
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} autoscale: ${line}\n`);
}

/**
 * Small CPU requests: up to eight server pods (a stable scaled up and its canary) share the one
 * 2-CPU node, and the scheduler counts requests, not use.
 */
const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
};

function startRamp(url: string, legs: { clients: number; seconds: number }[]): Ramp {
  const ramp = Ramp.start({ url, model: 'digits', legs });
  running.add(ramp);
  return ramp;
}

/** Failed or wrong outcomes, briefly, for an assertion message. */
function failures(outcomes: readonly RampOutcome[]): string[] {
  return outcomes
    .filter((o) => o.status !== 200 || o.correct !== true)
    .slice(0, 10)
    .map((o) => `${new Date(o.at).toISOString()} ${o.status} ${o.revision ?? '-'} ${o.error ?? 'wrong answer'}`);
}

/** One reading of a revision's size: what its Deployment asks for and how many of its pods are ready. */
interface Size {
  at: number;
  replicas: number;
  ready: number;
}

/** Reads the revision Deployment `name` every half second until stopped. */
class Sizes {
  readonly seen: Size[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly name: string) {
    this.done = this.loop();
  }

  async stop(): Promise<Size[]> {
    this.stopped = true;
    await this.done;
    return this.seen;
  }

  /** The replica counts in the order they changed (repeats dropped). */
  sequence(): number[] {
    return this.seen.map((s) => s.replicas).filter((r, i, all) => i === 0 || r !== all[i - 1]);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const d = await apps.readNamespacedDeployment({ namespace: ns, name: this.name });
        this.seen.push({ at: Date.now(), replicas: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 });
      } catch {
        // A read that failed is a reading missed, not a test failure.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Server pods of a ModelDeployment's revision, terminating ones included (two ModelDeployments of
 * the same model and server have the same revision name).
 */
async function podsOf(md: string, revision: string): Promise<number> {
  const list = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `modelship.dev/deployment=${md},modelship.dev/revision=${revision}`,
  });
  return list.items.length;
}

/** The Normal Events about a ModelDeployment with this reason. */
async function events(md: string, reason: string): Promise<string[]> {
  return (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${md}` })).items
    .filter((e) => e.type === 'Normal' && e.reason === reason)
    .map((e) => e.message ?? '');
}

/** Waits until the revision is at zero: Ready says ScaledToZero, its Deployment asks for 0, no pod is left. */
async function atZero(md: string, revision: string, timeoutMs = 300_000): Promise<ModelDeployment> {
  const m = await mds.waitFor(
    md,
    `revision ${revision} scaled to zero`,
    (x) => condition(x, 'Ready')?.reason === 'ScaledToZero' && x,
    timeoutMs,
  );
  await waitFor(
    `revision ${revision}: no pod left`,
    async () => (await podsOf(md, revision)) === 0 || undefined,
    120_000,
    500,
  );
  return m;
}

beforeAll(async () => {
  await installOnce();
  ns = await createTestNamespace(kc, 'autoscale');
  mds = new Mds(kc, ns);
}, TIMEOUT);

afterEach(async () => {
  await Promise.all([...running].map((r) => r.stop()));
  running.clear();
});

afterAll(async () => {
  stopPortForwards();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('request autoscaling and scale to zero on real pods', () => {
  it(
    'a new ModelDeployment with minReplicas 0 that gets no request goes to zero after idleSeconds',
    async () => {
      await mds.apply('fresh', {
        model: model('digits'),
        server,
        autoscaling: { minReplicas: 0, maxReplicas: 2, targetConcurrency: 2, idleSeconds: 10 },
      });
      // It starts at one pod (its model loaded and verified: Ready means something), then idles down.
      const revision = await mds.readyStable('fresh');
      expect(await podsOf('fresh', revision)).toBe(1);
      const md = await atZero('fresh', revision, 120_000);
      expect(md.status?.scale?.find((s) => s.revision === revision)).toMatchObject({
        desiredReplicas: 0,
        reason: 'Idle',
      });
      expect(condition(md, 'Ready')?.status).toBe('True');
      expect(await events('fresh', 'ScaledToZero')).not.toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'follows a load ramp up and back with no failed request, scales to zero when idle, and answers the first request after zero',
    async () => {
      const idleSeconds = 20;
      await mds.apply('ramp', {
        model: model('digits'),
        server,
        autoscaling: {
          minReplicas: 0,
          maxReplicas: 4,
          targetConcurrency: 2,
          scaleDownWindowSeconds: 20,
          idleSeconds,
          activationTimeoutSeconds: 60,
        },
      });
      const revision = await mds.readyStable('ramp');
      const workload = routeOf('ramp', revision);
      const url = await serviceUrl(kc, ns, 'ramp');
      const sizes = new Sizes(workload);
      const [sample] = digitSamples();
      try {
        // A user's request, then nothing for idleSeconds: zero pods.
        expect((await sendSample(url, 'digits', sample!)).status).toBe(200);
        let md = await atZero('ramp', revision);
        expect(md.status?.scale?.find((s) => s.revision === revision)).toMatchObject({
          desiredReplicas: 0,
          reason: 'Idle',
        });
        expect(await events('ramp', 'ScaledToZero')).not.toEqual([]);

        // The first request after zero: held by the router, answered once a pod is up.
        const first = await sendSample(url, 'digits', sample!);
        measured(`first request after zero answered in ${first.doneAt - first.at} ms (status ${first.status})`);
        expect({ status: first.status, correct: first.correct, error: first.error }).toEqual({
          status: 200,
          correct: true,
          error: undefined,
        });
        expect((await events('ramp', 'Activating'))[0]).toMatch(new RegExp(`^revision ${revision}: 0 → 1 replica`));

        // Idle again, then a ramp from zero: 0 → 8 clients → 0 (8 in flight against 2 per pod: up to 4 pods).
        await atZero('ramp', revision);
        const ramp = startRamp(url, [
          { clients: 8, seconds: 30 },
          { clients: 8, seconds: 45 },
          { clients: 0, seconds: 20 },
        ]);
        const outcomes = await ramp.done();
        // Back down: the scale-down window, then zero once idle for idleSeconds.
        md = await atZero('ramp', revision);
        const seen = await sizes.stop();
        const counts = countOutcomes(outcomes);
        const sequence = sizes.sequence();
        measured(
          `ramp 0 → 8 → 0 clients: ${JSON.stringify(counts)}; replicas ${sequence.join(' → ')}; ` +
            `most ready ${Math.max(...seen.map((s) => s.ready))}`,
        );
        expect({ failed: counts.failed, wrong: counts.wrong, sample: failures(outcomes) }).toEqual({
          failed: 0,
          wrong: 0,
          sample: [],
        });
        expect(counts.answered).toBeGreaterThan(100);
        // Replicas rose above one with the load, stayed within maxReplicas, and came back to zero.
        const peak = Math.max(...sequence);
        expect(peak).toBeGreaterThan(1);
        expect(peak).toBeLessThanOrEqual(4);
        expect(sequence.slice(sequence.indexOf(peak))).toContain(0);
        expect(Math.max(...seen.map((s) => s.ready))).toBeGreaterThan(1);
        expect(await events('ramp', 'ScaledUp')).not.toEqual([]);
        expect(await events('ramp', 'ScaledDown')).not.toEqual([]);
        expect(condition(md, 'Ready')?.status).toBe('True');
      } finally {
        await sizes.stop();
      }
    },
    TIMEOUT,
  );

  it(
    "promotes a canary under an autoscaled stable only once the candidate has the stable's pods",
    async () => {
      const autoscaling = { minReplicas: 1, maxReplicas: 4, targetConcurrency: 1, scaleDownWindowSeconds: 120 };
      await mds.apply('canary', { model: model('digits'), server, autoscaling });
      const stable = await mds.readyStable('canary');
      const previous = routeOf('canary', stable);
      const url = await serviceUrl(kc, ns, 'canary');
      // A steady 6 clients against 1 in flight per pod: the stable grows past its minReplicas.
      const ramp = startRamp(url, [
        { clients: 6, seconds: 10 },
        { clients: 6, seconds: 600 },
      ]);
      const grown = await waitFor(
        `stable ${previous} scaled past 2 ready pods`,
        async () => {
          const d = await apps.readNamespacedDeployment({ namespace: ns, name: previous });
          return (d.status?.readyReplicas ?? 0) >= 3 ? d.status!.readyReplicas! : undefined;
        },
        240_000,
        500,
      );
      const since = Date.now();
      await mds.apply('canary', {
        model: model('digits-v2'),
        server,
        autoscaling,
        rollout: { steps: [{ weight: 50, pauseSeconds: 10 }] },
      });
      // Every quarter second until promoted: the candidate's share and available pods, the stable's replicas.
      const samples: { percent: number; candidateAvailable: number; stableReplicas: number; reason?: string }[] = [];
      let candidate: string | undefined;
      let md: ModelDeployment;
      for (;;) {
        md = await mds.get('canary');
        candidate ??= md.status?.canary?.revision;
        if (candidate) {
          const [c, s] = await Promise.all([
            apps.readNamespacedDeployment({ namespace: ns, name: routeOf('canary', candidate) }).catch(() => undefined),
            apps.readNamespacedDeployment({ namespace: ns, name: previous }),
          ]);
          samples.push({
            percent: percentOf(md, candidate) ?? 0,
            candidateAvailable: c?.status?.availableReplicas ?? 0,
            stableReplicas: s.spec?.replicas ?? 0,
            reason: md.status?.scale?.find((x) => x.revision === candidate)?.reason,
          });
        }
        if (promotedFrom(md, previous)) break;
        if (Date.now() - since > 300_000)
          throw new Error(`canary not promoted in 300 s; last status: ${statusGist(md.status)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const outcomes = await ramp.stop();
      const counts = countOutcomes(outcomes);
      const promotion = samples.findIndex((s) => s.percent === 100);
      const before = samples[promotion - 1];
      const at = samples[promotion];
      measured(
        `canary under an autoscaled stable (${grown} ready): ${JSON.stringify(counts)}; at promotion the candidate had ` +
          `${at?.candidateAvailable} available against the stable's ${before?.stableReplicas}; reasons ` +
          `${[...new Set(samples.map((s) => s.reason))].join(', ')}`,
      );
      expect({ failed: counts.failed, wrong: counts.wrong, sample: failures(outcomes) }).toEqual({
        failed: 0,
        wrong: 0,
        sample: [],
      });
      // The candidate was sized by its weight against the stable's current size, and 100 % landed
      // only on as many available pods as the stable was running just before.
      expect(samples.map((s) => s.reason)).toContain('CanaryWeight');
      expect(promotion).toBeGreaterThan(0);
      expect(before!.stableReplicas).toBeGreaterThanOrEqual(3);
      expect(at!.candidateAvailable).toBeGreaterThanOrEqual(before!.stableReplicas);
      expect(condition(md, 'Ready')?.status).toBe('True');
    },
    TIMEOUT,
  );
});
