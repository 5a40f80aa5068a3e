/**
 * The canary wired end to end through the pure core, as the shell drives it: plan → desired
 * objects → a simulated cluster (Deployments at a given progress) and router (a stats document counted
 * by the router's rules, written into the stats ConfigMap with each revision's V2 metadata) → status, which
 * is the next reconcile's memory. Only the backends' answers and the clock are simulated.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { countRequest, emptyStatsDocument, statsSnapshot, type RouterStatsDocument } from '../../../contract/stats.js';
import type { ModelMetadata } from '../../../contract/metadata.js';
import type { Condition, ModelDeployment, ModelDeploymentSpec } from '../api/types.js';
import { desiredObjects } from '../desired/index.js';
import type { KubeObject } from '../desired/types.js';
import { computeStatus } from '../status/index.js';
import { ACTION_ANNOTATION } from './canary-action.js';
import { mdFixture, observedAfter, SHA_B, type Progress } from '../../test/fixtures.js';
import { plan, type RolloutPlan } from './plan.js';
import { revisionOf } from './revision.js';

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:test' };
const TICK_SECONDS = 2;
const REQUESTS_PER_TICK = 200;

const DIGITS: ModelMetadata = {
  name: 'digits',
  versions: [],
  platform: 'onnxruntime',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64] }],
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [-1] },
    { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
  ],
};

const ROLLOUT: ModelDeploymentSpec['rollout'] = {
  steps: [
    { weight: 10, pauseSeconds: 10 },
    { weight: 50, pauseSeconds: 10 },
  ],
  analysis: { intervalSeconds: 4, minRequests: 20, maxErrorRate: 0.01, failureLimit: 2 },
  retainPreviousSeconds: 600,
};

/** How the simulated candidate answers. */
interface Candidate {
  failEvery?: number;
  metadata?: ModelMetadata;
}

/** A simulated cluster and router around the pure core. */
class World {
  md: ModelDeployment;
  applied: KubeObject[] = [];
  baseline: RouterStatsDocument[] | undefined;
  readonly stats = emptyStatsDocument('digits-router-0', new Date(T0));
  seconds = 0;
  last!: RolloutPlan;
  failedLive = 0;
  events: string[] = [];

  constructor(
    spec: Partial<ModelDeploymentSpec>,
    private candidate: Candidate = {},
  ) {
    this.md = mdFixture({ replicas: 4, rollout: ROLLOUT, ...spec });
  }

  get now(): Date {
    return new Date(T0 + this.seconds * 1000);
  }

  /** One reconcile: observe (Deployments available, the stats ConfigMap as the router left it), plan, apply, status. */
  reconcile(progress: Progress = 'available'): RolloutPlan {
    const observed = observedAfter(this.applied, progress);
    const doc = statsSnapshot(this.stats, this.now, null);
    const cm: V1ConfigMap = {
      metadata: { name: 'digits-stats' },
      data: { 'digits-router-0.json': JSON.stringify(doc) },
    };
    observed.configMaps.push(cm);
    if (this.baseline) observed.statsBaseline = this.baseline;
    const p = plan(this.md, observed, this.now);
    this.applied = desiredObjects(this.md, p, OPTIONS);
    this.md = { ...this.md, status: computeStatus(this.md, observed, p, this.now) };
    if (p.baseline) this.baseline = p.baseline;
    if (p.transition) this.events.push(`${p.transition.outcome}:${p.transition.reason}`);
    this.last = p;
    return p;
  }

  /** The router: publishes both revisions' metadata and serves a tick of requests by the routes' weights. */
  serve(): void {
    const cm = this.applied.find((o) => o.metadata.name === 'digits-routes');
    if (cm === undefined) {
      this.seconds += TICK_SECONDS;
      return;
    }
    const routes = JSON.parse((cm.data as Record<string, string>)['routes.json']!) as {
      revisions: { name: string; weight: number }[];
    };
    const stable = `digits-${this.md.status!.stable!.revision}`;
    for (const r of routes.revisions)
      (this.stats.models ??= {})[r.name] = {
        metadata: r.name === stable ? DIGITS : (this.candidate.metadata ?? DIGITS),
      };
    let sent = 0;
    for (const r of routes.revisions) {
      const n = Math.round((REQUESTS_PER_TICK * r.weight) / 100);
      for (let i = 0; i < n; i++) {
        const failed =
          r.name !== stable && this.candidate.failEvery !== undefined && ++sent % this.candidate.failEvery === 0;
        if (failed) this.failedLive++;
        countRequest(this.stats, r.name, 'live', failed ? 500 : 200, 3);
      }
    }
    this.seconds += TICK_SECONDS;
  }

  /** Reconcile and serve until the canary settles (or time runs out). */
  run(untilSeconds = 300): void {
    while (this.seconds < untilSeconds) {
      const p = this.reconcile();
      if (p.canary === undefined && p.candidate === undefined && this.seconds > 0) return;
      if (p.canary?.phase === 'RolledBack') return;
      this.serve();
    }
  }

  /** Reconcile and serve until the canary holds this live weight; fails after `limitSeconds` of simulated time. */
  untilWeight(weight: number, limitSeconds = 600): void {
    const until = this.seconds + limitSeconds;
    while (this.md.status!.canary?.weight !== weight) {
      if (this.seconds >= until)
        throw new Error(
          `canary never reached ${weight}% in ${limitSeconds}s: ${JSON.stringify(this.md.status?.canary)}`,
        );
      this.reconcile();
      this.serve();
    }
  }

  condition(type: string): Condition | undefined {
    return this.md.status?.conditions?.find((c) => c.type === type);
  }

  routes(): [string, number][] {
    const doc = JSON.parse(
      (this.applied.find((o) => o.metadata.name === 'digits-routes')!.data as Record<string, string>)['routes.json']!,
    ) as { revisions: { name: string; weight: number }[] };
    return doc.revisions.map((r) => [r.name, r.weight]);
  }

  replicasOf(revision: string): number | undefined {
    return (
      this.applied.find((o) => o.kind === 'Deployment' && o.metadata.name === `digits-${revision}`)?.spec as
        { replicas?: number } | undefined
    )?.replicas;
  }

  /** Changes the spec as a user would (a new generation). */
  edit(spec: Partial<ModelDeploymentSpec>, annotations?: Record<string, string>): void {
    const metadata = {
      ...this.md.metadata,
      generation: (this.md.metadata.generation ?? 1) + 1,
      ...(annotations ? { annotations } : {}),
    };
    this.md = { ...this.md, metadata, spec: { ...this.md.spec, ...spec } };
  }
}

const V2 = { model: { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B } };

/** A world whose first revision is stable and serving, then edited to the second model. */
function rolling(
  candidate: Candidate = {},
  spec: Partial<ModelDeploymentSpec> = {},
): { w: World; r1: string; r2: string } {
  const w = new World(spec, candidate);
  w.reconcile();
  w.reconcile();
  w.serve();
  const r1 = w.md.status!.stable!.revision;
  w.edit(V2);
  return { w, r1, r2: revisionOf(w.md) };
}

describe('plan with the canary wired in', () => {
  it('walks a good candidate through the gate and every step to Promoted, its replicas following the weight', () => {
    const { w, r1, r2 } = rolling();
    w.reconcile('none');
    expect(w.md.status!.canary).toMatchObject({ revision: r2, phase: 'Pending', weight: 0 });
    // Sized for its first step before it gets any traffic: ceil(4 × 10%) = 1.
    expect(w.replicasOf(r2)).toBe(1);
    expect(w.routes()).toEqual([
      [`digits-${r1}`, 100],
      [`digits-${r2}`, 0],
    ]);

    const weights = new Set<number>();
    while (w.seconds < 300 && w.last.candidate !== undefined) {
      w.reconcile();
      if (w.md.status!.canary) weights.add(w.md.status!.canary.weight);
      const canary = w.md.status!.canary;
      if (canary?.phase === 'Progressing' && canary.weight === 50) expect(w.replicasOf(r2)).toBe(2);
      // Promoting: scaled to the stable's size first, still at 50%.
      if (canary?.phase === 'Promoted') expect([w.replicasOf(r2), w.routes()[1]![1]]).toEqual([4, 50]);
      expect(w.condition('Ready')?.status).toBe('True');
      w.serve();
    }
    expect([...weights]).toEqual([0, 10, 50]);
    expect(w.md.status).toMatchObject({ stable: { revision: r2 }, retained: [{ revision: r1 }] });
    expect(w.md.status!.canary).toBeUndefined();
    expect(w.routes()).toEqual([
      [`digits-${r2}`, 100],
      [`digits-${r1}`, 0],
    ]);
    expect(w.replicasOf(r1)).toBe(4);
    expect(w.failedLive).toBe(0);
    expect(w.md.status!.history!.map((h) => h.outcome)).toEqual(['Initial', 'Promoted']);
  });

  it("holds a candidate at 0% until the router has published both revisions' metadata", () => {
    const { w } = rolling();
    w.reconcile();
    expect(w.md.status!.canary).toMatchObject({ phase: 'Pending', reason: 'Starting' });
    w.reconcile();
    expect(w.md.status!.canary).toMatchObject({ phase: 'Pending', reason: 'ContractUnknown' });
    expect(w.md.status!.canary!.message).toContain('model metadata of the candidate not known yet');
  });

  it('rolls back an erroring candidate for its error rate: Stalled says why, Ready stays True, routes back to 100/0', () => {
    const { w, r1, r2 } = rolling({ failEvery: 4 });
    w.run();
    expect(w.md.status!.canary).toMatchObject({ phase: 'RolledBack', reason: 'ErrorRateExceeded', weight: 0 });
    expect(w.md.status!.canary!.analysis).toMatchObject({ lastResult: 'Failed', errorRate: 0.25 });
    expect(w.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ErrorRateExceeded' });
    expect(w.condition('Stalled')!.message).toContain('error rate 25% > 1%');
    expect(w.condition('Ready')?.status).toBe('True');
    expect(w.routes()).toEqual([
      [`digits-${r1}`, 100],
      [`digits-${r2}`, 0],
    ]);
    expect(w.replicasOf(r2)).toBe(0);
    expect(w.md.status!.history!.at(-1)).toMatchObject({
      revision: r2,
      outcome: 'RolledBack',
      reason: 'ErrorRateExceeded',
    });
    // It holds: more reconciles change nothing.
    const held = w.md.status;
    w.seconds += 60;
    w.reconcile();
    expect(w.md.status!.canary).toEqual({ ...held!.canary, readyReplicas: 0 });
  });

  it('rolls back a candidate whose contract differs before it serves a single request', () => {
    const narrowed: ModelMetadata = { ...DIGITS, inputs: [{ name: 'input', datatype: 'FP64', shape: [-1, 64] }] };
    const { w } = rolling({ metadata: narrowed });
    w.run();
    expect(w.md.status!.canary).toMatchObject({ phase: 'RolledBack', reason: 'ContractMismatch' });
    expect(w.condition('Stalled')!.message).toContain('input input: datatype FP32 → FP64');
    expect(w.failedLive).toBe(0);
  });

  it('lets the same candidate through when the spec allows the contract change', () => {
    const narrowed: ModelMetadata = { ...DIGITS, inputs: [{ name: 'input', datatype: 'FP64', shape: [-1, 64] }] };
    const { w, r2 } = rolling({ metadata: narrowed }, { rollout: { ...ROLLOUT, allowContractChange: true } });
    w.run();
    expect(w.md.status!.stable!.revision).toBe(r2);
  });

  it('rolls back at once when the spec is reverted mid-rollout, then forgets the canary', () => {
    const { w, r1, r2 } = rolling();
    w.untilWeight(10);
    w.edit({ model: mdFixture().spec.model });
    w.reconcile();
    expect(w.last.transition).toMatchObject({ outcome: 'RolledBack', revision: r2, reason: 'SpecReverted' });
    expect(w.routes()[0]).toEqual([`digits-${r1}`, 100]);
    w.reconcile();
    expect(w.md.status!.canary).toBeUndefined();
    expect(w.condition('Stalled')?.status).toBe('False');
  });

  it('rolls back at once when the spec is reverted while the stable runs short of pods', () => {
    const { w, r1, r2 } = rolling();
    w.untilWeight(10);
    w.edit({ model: mdFixture().spec.model });
    // No Deployment has all its pods: the stable is not at its full scale, which only a promotion waits for.
    w.reconcile('partial');
    expect(w.md.status!.canary).toMatchObject({ revision: r2, phase: 'RolledBack', reason: 'SpecReverted', weight: 0 });
    expect(w.routes()).toEqual([
      [`digits-${r1}`, 100],
      [`digits-${r2}`, 0],
    ]);
    expect(w.replicasOf(r2)).toBe(0);
  });

  it('rolls back to the retained revision at once on a rollback action after promotion, once per nonce', () => {
    const { w, r1, r2 } = rolling();
    w.run();
    expect(w.md.status!.stable!.revision).toBe(r2);
    w.edit({}, { [ACTION_ANNOTATION]: 'rollback@n1' });
    w.reconcile();
    expect(w.md.status).toMatchObject({
      stable: { revision: r1 },
      lastAction: 'rollback@n1',
      canary: { revision: r2, phase: 'RolledBack', reason: 'ManualRollback' },
    });
    expect(w.routes()).toEqual([
      [`digits-${r1}`, 100],
      [`digits-${r2}`, 0],
    ]);
    expect(w.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ManualRollback' });
    expect(w.last.actionMessage).toContain('rolled back from');
    // The same annotation again is not a new request.
    w.reconcile();
    expect(w.last.actionMessage).toBeUndefined();
    expect(w.md.status!.stable!.revision).toBe(r1);
  });

  it('promotes on a promote action and reports a malformed action as refused, once', () => {
    const { w, r2 } = rolling();
    w.untilWeight(10);
    w.edit({}, { [ACTION_ANNOTATION]: 'promote-now' });
    w.reconcile();
    expect(w.last).toMatchObject({ actionRefused: true, handledAction: 'promote-now' });
    expect(w.last.actionMessage).toContain('expected <verb>[:<revision>]@<nonce>');
    w.reconcile();
    expect(w.last.actionMessage).toBeUndefined();
    w.edit({}, { [ACTION_ANNOTATION]: `promote:${r2}@n2` });
    w.reconcile();
    // Promotion first scales the candidate to the stable's size, then flips the traffic.
    expect(w.md.status!.stable!.revision).not.toBe(r2);
    expect(w.replicasOf(r2)).toBe(4);
    expect(w.routes()[1]).toEqual([`digits-${r2}`, 10]);
    w.reconcile();
    expect(w.md.status!.stable!.revision).toBe(r2);
    expect(w.last.transition).toMatchObject({ outcome: 'Promoted', reason: 'ManualPromotion' });
  });

  it('with strategy Replace, promotes as soon as the candidate is available, with no gate and no steps', () => {
    const { w, r2 } = rolling({}, { rollout: { ...ROLLOUT, strategy: 'Replace' } });
    w.reconcile('none');
    expect(w.md.status!.stable!.revision).not.toBe(r2);
    w.reconcile();
    expect(w.md.status!.stable!.revision).toBe(r2);
  });

  it('with the gateway-api router, advances each step on its pause alone (no stats to analyse)', () => {
    const { w, r2 } = rolling({ failEvery: 2 }, { traffic: { router: 'gateway-api', gatewayRef: { name: 'public' } } });
    const weights: number[] = [];
    for (let i = 0; i < 40 && w.md.status!.stable!.revision !== r2; i++) {
      w.reconcile();
      const route = w.applied.find((o) => o.kind === 'HTTPRoute')!;
      weights.push(
        (route.spec as { rules: { backendRefs: { name: string; weight: number }[] }[] }).rules[0]!.backendRefs.find(
          (b) => b.name === `digits-${r2}`,
        )?.weight ?? 0,
      );
      w.seconds += TICK_SECONDS;
    }
    expect(w.md.status!.stable!.revision).toBe(r2);
    expect([...new Set(weights)]).toEqual([0, 10, 50, 100]);
  });
});
