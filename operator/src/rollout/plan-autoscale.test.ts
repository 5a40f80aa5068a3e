import type { V1Pod } from '@kubernetes/client-node';
import type { AutoscalingSpec, ModelDeployment } from '../api/types.js';
import type { StatsReading } from '../autoscale/load.js';
import { desiredObjects } from '../desired/index.js';
import type { KubeObject } from '../desired/types.js';
import type { Observed } from '../observed.js';
import { computeStatus } from '../status/index.js';
import { routeNameOf } from '../traffic/names.js';
import { mdFixture, observedAfter, SHA_B, type Progress } from '../../test/fixtures.js';
import { parseRoutes, type Routes } from '../../../contract/routes.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';
import { plan, type RolloutPlan } from './plan.js';
import { revisionOf } from './revision.js';

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:test' };
const ROUTER_POD = 'digits-router-7d9f-abcde';
const TO_ZERO: AutoscalingSpec = { minReplicas: 0, maxReplicas: 10, targetConcurrency: 4, idleSeconds: 30 };

/** A router stats document of ROUTER_POD at second `s`: `busyMs` and `inFlight` per route. */
function statsDoc(
  s: number,
  load: Record<string, { busyMs: number; inFlight?: number; held?: number; requests?: number }>,
  routesGeneration: number | null = 1,
): RouterStatsDocument {
  const traffic = (requests: number) => ({
    requests,
    errors: 0,
    codes: {},
    latencyMs: { le: [1], counts: [0], count: 0, sum: 0 },
  });
  return {
    version: 1,
    pod: ROUTER_POD,
    startTime: new Date(T0 - 3_600_000).toISOString(),
    time: new Date(T0 + s * 1000).toISOString(),
    routesGeneration,
    revisions: Object.fromEntries(
      Object.entries(load).map(([route, l]) => [
        route,
        {
          live: traffic(l.requests ?? l.busyMs / 100),
          mirror: traffic(0),
          load: { inFlight: l.inFlight ?? 0, held: l.held ?? 0, busyMs: l.busyMs, heldTotal: 0, heldRefused: 0 },
        },
      ]),
    ),
    agreement: {},
  };
}

/** A reading a second from `from` to `to` of routes each in flight at a steady concurrency. */
function steady(from: number, to: number, concurrency: Record<string, number>): StatsReading[] {
  const out: StatsReading[] = [];
  for (let s = from; s <= to; s++) {
    const load = Object.fromEntries(
      Object.entries(concurrency).map(([route, c]) => [route, { busyMs: c * s * 1000, inFlight: Math.round(c) }]),
    );
    out.push({ at: T0 + s * 1000, documents: [statsDoc(s, load)] });
  }
  return out;
}

/** The running router pod. */
function routerPod(): V1Pod {
  return {
    metadata: {
      name: ROUTER_POD,
      namespace: 'ml',
      labels: { 'modelship.dev/deployment': 'digits', 'app.kubernetes.io/component': 'router' },
    },
    status: { phase: 'Running' },
  };
}

/** A running pod of revision `revision` at `ip`. */
function revisionPod(revision: string, suffix: string, ip: string): V1Pod {
  return {
    metadata: {
      name: `digits-${revision}-${suffix}`,
      namespace: 'ml',
      labels: { 'modelship.dev/deployment': 'digits', 'modelship.dev/revision': revision },
    },
    status: { phase: 'Running', podIP: ip },
  };
}

/**
 * The cluster after `applied`: Deployments at their progress (and replica overrides), the routes
 * ConfigMap as applied, the stats ConfigMap holding the latest reading, the router pod, the ring.
 */
function cluster(
  applied: KubeObject[],
  progress: Record<string, Progress>,
  readings: StatsReading[],
  replicas: Record<string, number> = {},
): Observed {
  const observed = observedAfter(applied, { 'digits-router': 'available', ...progress });
  for (const d of observed.deployments) {
    const n = replicas[d.metadata!.name!];
    if (n === undefined) continue;
    const ready = progress[d.metadata!.name!] === 'available' ? n : 0;
    d.spec!.replicas = n;
    d.status = { ...d.status, replicas: n, readyReplicas: ready, availableReplicas: ready, updatedReplicas: n };
  }
  observed.configMaps = applied.filter((o) => o.kind === 'ConfigMap') as Observed['configMaps'];
  const latest = readings.at(-1);
  if (latest) {
    observed.configMaps = observed.configMaps.map((c) =>
      c.metadata?.name === 'digits-stats'
        ? { ...c, data: Object.fromEntries(latest.documents.map((d) => [`${d.pod}.json`, JSON.stringify(d)])) }
        : c,
    );
  }
  observed.pods = [routerPod()];
  observed.statsReadings = readings;
  return observed;
}

/** One reconcile: plan on the cluster, the status it writes, the objects it applies. */
function step(md: ModelDeployment, observed: Observed, at: number) {
  const now = new Date(T0 + at * 1000);
  const p = plan(md, observed, now);
  return {
    plan: p,
    md: { ...md, status: computeStatus(md, observed, p, now) },
    applied: desiredObjects(md, p, OPTIONS),
  };
}

function routesOf(applied: KubeObject[]): Routes {
  const cm = applied.find((o) => o.metadata.name === 'digits-routes') as unknown as { data: Record<string, string> };
  const parsed = parseRoutes(cm.data['routes.json']!);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.routes;
}

function replicasOf(applied: KubeObject[], revision: string): number | undefined {
  return (
    applied.find((o) => o.kind === 'Deployment' && o.metadata.name === `digits-${revision}`)?.spec as {
      replicas?: number;
    }
  ).replicas;
}

/** A ModelDeployment whose revision serves as stable, with the objects it was last given. */
function serving(autoscaling: AutoscalingSpec, replicas: number) {
  const md = mdFixture({ autoscaling });
  const rev = revisionOf(md);
  const first = step(md, cluster([], {}, []), 0);
  const name = `digits-${rev}`;
  return { md: first.md, rev, route: routeNameOf(md, rev), applied: first.applied, name, replicas };
}

const scaleOf = (p: RolloutPlan) => ({
  replicas: p.stable.scale.replicas,
  hold: p.stable.hold ?? false,
  ...p.stable.why,
});

describe('plan with request autoscaling', () => {
  it('starts a new ModelDeployment at one pod even with minReplicas 0, so Ready means the model loaded', () => {
    const { md, applied } = serving(TO_ZERO, 1);
    const rev = revisionOf(md);
    expect(replicasOf(applied, rev)).toBe(1);
    expect(applied.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === `digits-${rev}`)).toBe(
      false,
    );
    expect(md.status?.scale).toEqual([
      expect.objectContaining({ revision: rev, role: 'stable', desiredReplicas: 1, reason: 'NoData' }),
    ]);
  });

  it('sizes the stable on its load, and the routes publish stats every second and hold for the activation timeout', () => {
    const s = serving({ ...TO_ZERO, activationTimeoutSeconds: 20 }, 1);
    const observed = cluster(s.applied, { [s.name]: 'available' }, steady(0, 10, { [s.route]: 13.2 }), {
      [s.name]: 1,
    });
    const next = step(s.md, observed, 10);
    expect(scaleOf(next.plan)).toMatchObject({ replicas: 4, hold: false, reason: 'Load', desired: 4 });
    expect(next.plan.stable.why?.message).toBe('load 13.2 in flight against a target of 4 per pod: 4 replica(s)');
    expect(replicasOf(next.applied, s.rev)).toBe(4);
    expect(routesOf(next.applied)).toMatchObject({ statsIntervalMs: 1000, holdTimeoutMs: 20_000 });
    expect(next.plan.requeueAfterSeconds).toBe(1);
  });

  it('scales to zero in two steps: the route holds first, the pods go once every router pod has the hold', () => {
    const s = serving(TO_ZERO, 2);
    const idle = steady(0, 40, { [s.route]: 0 });
    // Step 1: idle for idleSeconds: the route holds, the pods stay until the routers have it.
    const first = step(s.md, cluster(s.applied, { [s.name]: 'available' }, idle, { [s.name]: 2 }), 40);
    expect(scaleOf(first.plan)).toMatchObject({ replicas: 2, hold: true, reason: 'Idle', desired: 0 });
    expect(first.plan.stable.why?.message).toContain('0/1 router pod(s) have the hold');
    const held = routesOf(first.applied);
    expect(held.revisions[0]).toMatchObject({ name: s.route, hold: true });
    expect(first.md.status?.scale?.[0]).toMatchObject({ desiredReplicas: 0, currentReplicas: 2, reason: 'Idle' });

    // The router pod echoes an older generation: still waiting.
    const stale = cluster(first.applied, { [s.name]: 'available' }, idle, { [s.name]: 2 });
    expect(step(first.md, stale, 41).plan.stable.scale.replicas).toBe(2);

    // Step 2: the router pod echoes the generation that holds: zero.
    const echoed = [
      ...idle.slice(0, -1),
      { ...idle.at(-1)!, documents: [statsDoc(41, { [s.route]: { busyMs: 0 } }, held.generation)] },
    ];
    const second = step(first.md, cluster(first.applied, { [s.name]: 'available' }, echoed, { [s.name]: 2 }), 41);
    expect(scaleOf(second.plan)).toMatchObject({ replicas: 0, hold: true, reason: 'Idle' });
    expect(replicasOf(second.applied, s.rev)).toBe(0);

    // At zero: Ready (the router holds and starts it), Reconciling settled.
    const atZero = step(second.md, cluster(second.applied, { [s.name]: 'available' }, echoed, { [s.name]: 0 }), 42);
    const conditions = Object.fromEntries(
      (atZero.md.status?.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]),
    );
    expect(conditions).toEqual({
      Ready: 'True ScaledToZero',
      Reconciling: 'False Reconciled',
      Stalled: 'False NoProblems',
    });
    expect(atZero.md.status).toMatchObject({ readyReplicas: 0, replicas: 0 });

    // After an operator restart (no readings yet) it stays at zero, and Ready.
    const restarted = step(
      atZero.md,
      cluster(atZero.applied, { [s.name]: 'available' }, echoed.slice(-1), { [s.name]: 0 }),
      43,
    );
    expect(scaleOf(restarted.plan)).toMatchObject({ replicas: 0, hold: true, reason: 'NoData' });
    expect(restarted.md.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'ScaledToZero',
    });
  });

  it('starts a revision at zero at once when requests are held, and keeps the hold until a pod is ready', () => {
    const s = serving(TO_ZERO, 0);
    const held: StatsReading[] = [
      { at: T0, documents: [statsDoc(0, { [s.route]: { busyMs: 0, inFlight: 9, held: 9 } })] },
    ];
    // Even right after an operator restart (one reading): activation does not wait for the windows.
    const first = step(s.md, cluster(s.applied, { [s.name]: 'available' }, held, { [s.name]: 0 }), 0);
    expect(scaleOf(first.plan)).toMatchObject({ replicas: 3, hold: true, reason: 'Activation' });
    expect(first.plan.stable.why?.message).toBe('9 request(s) held, 9 in flight at zero replicas: starting 3');
    expect(routesOf(first.applied).revisions[0]).toMatchObject({ hold: true });

    // Its pods run, none ready yet: the router may probe them and send to the first one ready.
    const running = cluster(first.applied, { [s.name]: 'none' }, held, { [s.name]: 3 });
    running.pods.push(revisionPod(s.rev, 'b', '10.1.2.4'), revisionPod(s.rev, 'a', '10.1.2.3'));
    const starting = step(first.md, running, 1);
    expect(starting.plan.stable.scale.replicas).toBe(3);
    expect(routesOf(starting.applied).revisions[0]).toMatchObject({
      hold: true,
      startingPods: ['http://10.1.2.3:8080', 'http://10.1.2.4:8080'],
    });
  });

  it('drops the hold once a pod is ready', () => {
    const s = serving(TO_ZERO, 0);
    const held: StatsReading[] = [
      { at: T0, documents: [statsDoc(0, { [s.route]: { busyMs: 0, inFlight: 2, held: 2 } })] },
    ];
    const first = step(s.md, cluster(s.applied, {}, held, { [s.name]: 0 }), 0);
    const notReady = step(first.md, cluster(first.applied, { [s.name]: 'none' }, held, { [s.name]: 1 }), 1);
    expect(notReady.plan.stable.hold).toBe(true);
    const up = cluster(notReady.applied, { [s.name]: 'available' }, held, { [s.name]: 1 });
    up.pods.push(revisionPod(s.rev, 'a', '10.1.2.3'));
    const ready = step(notReady.md, up, 2);
    expect(ready.plan.stable.hold).toBeUndefined();
    expect(routesOf(ready.applied).revisions[0]).not.toHaveProperty('hold');
    expect(routesOf(ready.applied).revisions[0]).not.toHaveProperty('startingPods');
  });
});

describe('a canary under an autoscaled stable', () => {
  /** v1 serving at `replicas`, and the spec changed to v2 with strategy Replace. */
  function rollingOut(autoscaling: AutoscalingSpec, replicas: number) {
    const s = serving(autoscaling, replicas);
    const v2 = mdFixture({
      autoscaling,
      model: { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B },
      rollout: { strategy: 'Replace' },
    });
    const md = { ...v2, status: s.md.status };
    return {
      ...s,
      md,
      rev2: revisionOf(v2),
      name2: `digits-${revisionOf(v2)}`,
      route2: routeNameOf(v2, revisionOf(v2)),
    };
  }

  it('sizes the candidate against the stable’s current replicas and lands 100% only on as many available pods', () => {
    const r = rollingOut({ minReplicas: 1, maxReplicas: 10, targetConcurrency: 4 }, 6);
    const load = steady(0, 10, { [r.route]: 24 });
    const pending = step(r.md, cluster(r.applied, { [r.name]: 'available' }, load, { [r.name]: 6 }), 10);
    expect(pending.plan.candidate).toMatchObject({ revision: r.rev2, scale: { replicas: 6 } });
    expect(pending.plan.candidate?.why).toMatchObject({ reason: 'CanaryWeight', desired: 6 });

    // The candidate has 1 of 6 pods available: promoted, but 100% waits.
    const few = cluster(pending.applied, { [r.name]: 'available', [r.name2]: 'available' }, load, {
      [r.name]: 6,
      [r.name2]: 1,
    });
    const waiting = step(pending.md, few, 11);
    expect(waiting.plan.stable.revision).toBe(r.rev);
    expect(waiting.plan.weights).toEqual([
      { revision: r.rev, percent: 100 },
      { revision: r.rev2, percent: 0 },
    ]);
    expect(waiting.plan.candidate?.scale).toEqual({ replicas: 6 });

    // Six available: 100% lands on the candidate; the old stable is retained at its six replicas.
    const all = cluster(waiting.applied, { [r.name]: 'available', [r.name2]: 'available' }, load, {
      [r.name]: 6,
      [r.name2]: 6,
    });
    const promoted = step(waiting.md, all, 12);
    expect(promoted.plan.stable.revision).toBe(r.rev2);
    expect(promoted.plan.retained).toEqual([
      expect.objectContaining({
        revision: r.rev,
        scale: { replicas: 6 },
        why: expect.objectContaining({ reason: 'Retained' }),
      }),
    ]);
  });

  it('never scales the stable to zero while a candidate is in flight', () => {
    const r = rollingOut(TO_ZERO, 2);
    const idle = steady(0, 60, { [r.route]: 0 });
    const next = step(r.md, cluster(r.applied, { [r.name]: 'available' }, idle, { [r.name]: 2 }), 60);
    expect(next.plan.candidate).toBeDefined();
    expect(next.plan.stable.scale.replicas).toBeGreaterThanOrEqual(1);
    expect(next.plan.stable.hold).toBeUndefined();
  });

  it('with the CPU HPA, floors the candidate’s HPA at the stable Deployment’s replicas and waits for them', () => {
    const r = rollingOut({ minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 70 }, 5);
    const pending = step(r.md, cluster(r.applied, { [r.name]: 'available' }, [], { [r.name]: 5 }), 0);
    expect(pending.plan.candidate?.scale).toEqual({
      autoscaling: { minReplicas: 5, maxReplicas: 10, targetCPUUtilizationPercentage: 70 },
    });
    expect(replicasOf(pending.applied, r.rev2)).toBeUndefined();
    const hpa = pending.applied.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === r.name2);
    expect(hpa?.spec).toMatchObject({ minReplicas: 5 });

    const few = cluster(pending.applied, { [r.name]: 'available', [r.name2]: 'available' }, [], {
      [r.name]: 5,
      [r.name2]: 2,
    });
    expect(step(pending.md, few, 1).plan.stable.revision).toBe(r.rev);
    const all = cluster(pending.applied, { [r.name]: 'available', [r.name2]: 'available' }, [], {
      [r.name]: 5,
      [r.name2]: 5,
    });
    const promoted = step(pending.md, all, 2);
    expect(promoted.plan.stable).toMatchObject({
      revision: r.rev2,
      scale: { autoscaling: { minReplicas: 2, maxReplicas: 10 } },
      why: { reason: 'CPU' },
    });
  });
});
