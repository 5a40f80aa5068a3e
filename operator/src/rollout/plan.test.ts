import type { ModelDeployment } from '../api/types.js';
import { desiredObjects } from '../desired/index.js';
import { ANNOTATION } from '../desired/names.js';
import type { KubeObject } from '../desired/types.js';
import { emptyObserved } from '../observed.js';
import { computeStatus } from '../status/index.js';
import { mdFixture, observedAfter, SHA_B, type Progress } from '../../test/fixtures.js';
import { plan, scaleOf } from './plan.js';
import { revisionOf } from './revision.js';

const NOW = new Date('2026-11-21T06:00:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:test' };

/**
 * One reconcile as the shell does it, against a simulated cluster holding the objects applied
 * last time (each Deployment at the progress `progress` gives it): observe, plan, apply, status.
 */
function reconcile(
  md: ModelDeployment,
  applied: KubeObject[],
  progress: (name: string) => Progress,
  now = NOW,
): { md: ModelDeployment; applied: KubeObject[] } {
  const observed = observedAfter(
    applied,
    Object.fromEntries(applied.map((o) => [o.metadata.name, progress(o.metadata.name)])),
  );
  const p = plan(md, observed, now);
  const desired = desiredObjects(md, p, OPTIONS);
  return { md: { ...md, status: computeStatus(md, observed, p, now) }, applied: desired };
}

describe('plan', () => {
  it('sends a first revision straight to stable at 100%', () => {
    const md = mdFixture({ replicas: 2 });
    const p = plan(md, emptyObserved(), NOW);
    expect(p).toMatchObject({
      specRevision: revisionOf(md),
      phase: 'Stable',
      stable: { revision: revisionOf(md), role: 'stable', scale: { replicas: 2 } },
      weights: [{ revision: revisionOf(md), percent: 100 }],
      retained: [],
      transition: { outcome: 'Initial', revision: revisionOf(md), reason: 'InitialRevision' },
    });
    expect(p.candidate).toBeUndefined();
  });

  it('makes no transition once the status records the stable revision', () => {
    const md = mdFixture();
    md.status = { stable: { revision: revisionOf(md), model: md.spec.model, readyReplicas: 1 } };
    const p = plan(md, emptyObserved(), NOW);
    expect(p.transition).toBeUndefined();
    expect(p.phase).toBe('Stable');
  });

  describe('when the model changes, with strategy Replace', () => {
    const v1 = mdFixture({ replicas: 2, rollout: { strategy: 'Replace' } });
    const v2 = mdFixture({
      replicas: 2,
      rollout: { strategy: 'Replace' },
      model: { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B },
    });
    const r1 = revisionOf(v1);
    const r2 = revisionOf(v2);
    const observedV1 = observedAfter(desiredObjects(v1, plan(v1, emptyObserved(), NOW), OPTIONS), 'available');
    const v2WithStatus = { ...v2, status: { stable: { revision: r1, model: v1.spec.model, readyReplicas: 2 } } };

    it('keeps the stable serving 100% while the new revision starts at 0%', () => {
      const p = plan(v2WithStatus, observedV1, NOW);
      expect(p.phase).toBe('Progressing');
      expect(p.stable.revision).toBe(r1);
      expect(p.stable.template.model).toEqual(v1.spec.model);
      expect(p.candidate).toMatchObject({ revision: r2, role: 'candidate' });
      expect(p.weights).toEqual([
        { revision: r1, percent: 100 },
        { revision: r2, percent: 0 },
      ]);
      expect(p.transition).toBeUndefined();
    });

    it('promotes the new revision once its Deployment is available, retaining the old one', () => {
      const both = observedAfter(
        desiredObjects(v2WithStatus, plan(v2WithStatus, observedV1, NOW), OPTIONS),
        'available',
      );
      const p = plan(v2WithStatus, both, NOW);
      expect(p.phase).toBe('Stable');
      expect(p.stable.revision).toBe(r2);
      // The retained revision stays in the routes at 0%: a rollback is a weight change only.
      expect(p.weights).toEqual([
        { revision: r2, percent: 100 },
        { revision: r1, percent: 0 },
      ]);
      expect(p.transition).toMatchObject({
        outcome: 'Promoted',
        revision: r2,
        previous: r1,
        reason: 'RevisionAvailable',
      });
      expect(p.retained).toEqual([expect.objectContaining({ revision: r1, until: '2026-11-21T06:10:00.000Z' })]);
      expect(p.requeueAfterSeconds).toBe(600);
    });

    it('does not wait for a partially ready new revision', () => {
      const both = observedAfter(desiredObjects(v2WithStatus, plan(v2WithStatus, observedV1, NOW), OPTIONS), 'partial');
      expect(plan(v2WithStatus, both, NOW).stable.revision).toBe(r1);
    });

    it('retains nothing with retainPreviousSeconds 0', () => {
      const md = {
        ...v2WithStatus,
        spec: { ...v2WithStatus.spec, rollout: { strategy: 'Replace' as const, retainPreviousSeconds: 0 } },
      };
      const both = observedAfter(desiredObjects(md, plan(md, observedV1, NOW), OPTIONS), 'available');
      const p = plan(md, both, NOW);
      expect(p.stable.revision).toBe(r2);
      expect(p.retained).toEqual([]);
      expect(p.requeueAfterSeconds).toBeUndefined();
    });

    it('replaces at once when the previous Deployment is gone', () => {
      const p = plan(v2WithStatus, emptyObserved(), NOW);
      expect(p.stable.revision).toBe(r2);
      expect(p.transition).toMatchObject({ outcome: 'Promoted', reason: 'PreviousRevisionGone' });
    });

    it('does not trust a Deployment whose template annotation was edited', () => {
      const tampered = structuredClone(observedV1);
      const ann = tampered.deployments[0]!.metadata!.annotations!;
      ann[ANNOTATION.template] = ann[ANNOTATION.template]!.replace(
        v1.spec.model.uri,
        'https://evil.example.com/x.onnx',
      );
      expect(plan(v2WithStatus, tampered, NOW).transition?.reason).toBe('PreviousRevisionGone');
    });

    it('keeps a retained revision until its time runs out, then drops it', () => {
      const both = observedAfter(
        desiredObjects(v2WithStatus, plan(v2WithStatus, observedV1, NOW), OPTIONS),
        'available',
      );
      const promoted = plan(v2WithStatus, both, NOW);
      const after = {
        ...v2,
        status: {
          stable: { revision: r2, model: v2.spec.model, readyReplicas: 2 },
          retained: promoted.retained.map((r) => ({ revision: r.revision, until: r.until })),
        },
      };
      const before = plan(after, both, new Date(NOW.getTime() + 599_000));
      expect(before.retained.map((r) => r.revision)).toEqual([r1]);
      expect(before.requeueAfterSeconds).toBe(1);
      expect(plan(after, both, new Date(NOW.getTime() + 600_000)).retained).toEqual([]);
    });

    it('switches back instantly when the spec is reverted to the retained revision', () => {
      const both = observedAfter(
        desiredObjects(v2WithStatus, plan(v2WithStatus, observedV1, NOW), OPTIONS),
        'available',
      );
      const promoted = plan(v2WithStatus, both, NOW);
      const reverted = {
        ...v1,
        status: {
          stable: { revision: r2, model: v2.spec.model, readyReplicas: 2 },
          retained: promoted.retained.map((r) => ({ revision: r.revision, until: r.until })),
        },
      };
      const p = plan(reverted, both, new Date(NOW.getTime() + 60_000));
      expect(p.stable.revision).toBe(r1);
      expect(p.candidate).toBeUndefined();
      expect(p.transition).toMatchObject({
        outcome: 'RolledBack',
        revision: r1,
        previous: r2,
        reason: 'RevertedToRetained',
      });
      expect(p.weights).toEqual([
        { revision: r1, percent: 100 },
        { revision: r2, percent: 0 },
      ]);
      expect(p.retained.map((r) => r.revision)).toEqual([r2]);
    });
  });

  it('is pure: same inputs give equal plans and the ModelDeployment is not modified', () => {
    const md = mdFixture({ autoscaling: { maxReplicas: 3 } });
    const copy = structuredClone(md);
    expect(plan(md, emptyObserved(), NOW)).toEqual(plan(md, emptyObserved(), NOW));
    expect(md).toEqual(copy);
  });

  it('converges in a simulated reconcile loop: v1 ready, v2 replaces it, then no more changes', () => {
    const ready = (): Progress => 'available';
    let state = { md: mdFixture({ replicas: 2, rollout: { strategy: 'Replace' } }), applied: [] as KubeObject[] };
    for (let i = 0; i < 3; i++) state = reconcile(state.md, state.applied, ready);
    const r1 = revisionOf(state.md);
    expect(state.md.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const steady = state.md.status;
    expect(reconcile(state.md, state.applied, ready).md.status).toEqual(steady);

    // The new model: its Deployment is not ready for two reconciles, then it is.
    let v2Ready = false;
    const progress = (name: string): Progress => (name.endsWith(r1) || v2Ready ? 'available' : 'none');
    state.md = {
      ...state.md,
      metadata: { ...state.md.metadata, generation: 2 },
      spec: { ...state.md.spec, model: { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B } },
    };
    const r2 = revisionOf(state.md);
    for (let i = 0; i < 2; i++) {
      state = reconcile(state.md, state.applied, progress);
      expect(state.md.status?.stable?.revision).toBe(r1);
      expect(state.md.status?.canary?.revision).toBe(r2);
      expect(
        state.applied
          .filter((o) => o.kind === 'Deployment')
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual([`digits-${r1}`, `digits-${r2}`, 'digits-router'].sort());
    }
    v2Ready = true;
    for (let i = 0; i < 3; i++) state = reconcile(state.md, state.applied, progress);
    expect(state.md.status).toMatchObject({
      stable: { revision: r2 },
      traffic: [
        { revision: r2, percent: 100 },
        { revision: r1, percent: 0 },
      ],
      retained: [{ revision: r1 }],
    });
    expect(state.md.status?.canary).toBeUndefined();
    expect(state.md.status?.history?.map((h) => [h.revision, h.outcome])).toEqual([
      [r1, 'Initial'],
      [r2, 'Promoted'],
    ]);
    const settled = state.md.status;
    expect(reconcile(state.md, state.applied, progress).md.status).toEqual(settled);
  });
});

describe('scaleOf', () => {
  it.each([
    ['nothing set', {}, { replicas: 1 }],
    ['replicas', { replicas: 3 }, { replicas: 3 }],
    ['replicas 0', { replicas: 0 }, { replicas: 0 }],
    [
      'autoscaling with defaults',
      { autoscaling: { maxReplicas: 5 } },
      { autoscaling: { minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70 } },
    ],
    [
      'autoscaling in full',
      { autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 50 } },
      { autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 50 } },
    ],
  ])('%s', (_what, spec, scale) => {
    expect(scaleOf(mdFixture(spec).spec)).toEqual(scale);
  });
});
