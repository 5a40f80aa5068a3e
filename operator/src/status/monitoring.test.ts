import type { Condition, ModelDeploymentStatus, MonitoringSpec } from '../api/types.js';
import type { RevisionAccuracy } from '../../../contract/accuracy.js';
import type { RevisionDrift } from '../../../contract/drift.js';
import { emptyTraffic, type RouterStatsDocument } from '../../../contract/stats.js';
import { desiredObjects } from '../desired/index.js';
import { emptyObserved, type Observed } from '../observed.js';
import { plan } from '../rollout/plan.js';
import { revisionOf } from '../rollout/revision.js';
import { mdFixture, observedAfter } from '../../test/fixtures.js';
import { computeStatus, invalidSpecStatus } from './index.js';
import {
  dataDriftCondition,
  driftEvents,
  monitoringRefreshSeconds,
  MONITORING_REFRESH_SECONDS,
  monitoringStatusOf,
} from './monitoring.js';

const T0 = new Date('2026-12-07T17:00:00.000Z');
const STABLE = 'aaaaaaaaaa';
const CANDIDATE = 'bbbbbbbbbb';

function drift(inputPsi: number | null, outputPsi: number | null, feature?: string): RevisionDrift {
  return {
    reference: 'live',
    rows: 2000,
    windowRows: 1000,
    inputPsi,
    outputPsi,
    ...(feature !== undefined ? { feature } : {}),
  };
}

/** One router pod's stats document with these revisions' drift and accuracy. */
function doc(
  pod: string,
  revisions: Record<string, { drift?: RevisionDrift; accuracy?: RevisionAccuracy }>,
): RouterStatsDocument {
  return {
    version: 1,
    pod,
    startTime: T0.toISOString(),
    time: T0.toISOString(),
    routesGeneration: 1,
    agreement: {},
    revisions: Object.fromEntries(
      Object.entries(revisions).map(([rev, figures]) => [
        `digits-${rev}`,
        { live: emptyTraffic(), mirror: emptyTraffic(), ...figures },
      ]),
    ),
  };
}

const ALL: MonitoringSpec = { drift: { threshold: 0.2 }, accuracy: {} };

describe('monitoringStatusOf', () => {
  it('is undefined without drift or accuracy (payload logging alone has no figures)', () => {
    const md = mdFixture({ monitoring: { payloadLogging: { url: 'http://sink' } } });
    expect(monitoringStatusOf(md, [doc('r1', { [STABLE]: { drift: drift(0.5, 0.5) } })], [STABLE])).toBeUndefined();
  });

  it.each([
    ['no router pod reports yet', [], { revision: STABLE }],
    [
      'window not full: no PSI, labels counted',
      [doc('r1', { [STABLE]: { drift: drift(null, null), accuracy: { labelled: 0, correct: 0 } } })],
      { revision: STABLE, labels: 0 },
    ],
    [
      'drift: the largest PSI among the pods with its feature; labels summed over the pods',
      [
        doc('r1', { [STABLE]: { drift: drift(0.05, 0.01, 'input[3]'), accuracy: { labelled: 30, correct: 27 } } }),
        doc('r2', { [STABLE]: { drift: drift(0.31234, 0.02, 'input[7]'), accuracy: { labelled: 10, correct: 5 } } }),
      ],
      {
        revision: STABLE,
        inputPsi: 0.312,
        feature: 'input[7]',
        outputPsi: 0.02,
        drifted: true,
        labels: 40,
        accuracy: 0.8,
      },
    ],
    [
      'output PSI alone above the threshold drifts',
      [doc('r1', { [STABLE]: { drift: drift(0.1, 0.25, 'input[0]') } })],
      { revision: STABLE, inputPsi: 0.1, feature: 'input[0]', outputPsi: 0.25, drifted: true },
    ],
    [
      'at the threshold is not above it',
      [doc('r1', { [STABLE]: { drift: drift(0.2, null, 'input[0]') } })],
      { revision: STABLE, inputPsi: 0.2, feature: 'input[0]', drifted: false },
    ],
  ] as const)('%s', (_what, documents, expected) => {
    expect(monitoringStatusOf(mdFixture({ monitoring: ALL }), [...documents], [STABLE])).toEqual([expected]);
  });

  it('lists every routed revision, stable first, each with its own figures', () => {
    const documents = [
      doc('r1', {
        [STABLE]: { drift: drift(0.01, 0.01, 'x[0]'), accuracy: { labelled: 4, correct: 4 } },
        [CANDIDATE]: { drift: drift(0.4, 0.3, 'x[1]'), accuracy: { labelled: 4, correct: 1 } },
      }),
    ];
    expect(monitoringStatusOf(mdFixture({ monitoring: ALL }), documents, [STABLE, CANDIDATE])).toEqual([
      { revision: STABLE, inputPsi: 0.01, feature: 'x[0]', outputPsi: 0.01, drifted: false, labels: 4, accuracy: 1 },
      { revision: CANDIDATE, inputPsi: 0.4, feature: 'x[1]', outputPsi: 0.3, drifted: true, labels: 4, accuracy: 0.25 },
    ]);
  });

  it('judges drift against the default threshold 0.2 when the spec names none', () => {
    const md = mdFixture({ monitoring: { drift: {} } });
    const [m] = monitoringStatusOf(md, [doc('r1', { [STABLE]: { drift: drift(0.21, null, 'x[0]') } })], [STABLE])!;
    expect(m!.drifted).toBe(true);
  });
});

describe('monitoringRefreshSeconds', () => {
  it.each([
    ['nothing monitored', undefined, undefined],
    ['payload logging only (no figures in status)', { payloadLogging: { url: 'http://sink' } }, undefined],
    ['drift', { drift: {} }, MONITORING_REFRESH_SECONDS],
    ['accuracy', { accuracy: {} }, MONITORING_REFRESH_SECONDS],
  ] as const)('%s', (_what, monitoring, expected) => {
    expect(monitoringRefreshSeconds(mdFixture(monitoring ? { monitoring } : {}))).toBe(expected);
  });
});

describe('dataDriftCondition', () => {
  const md = mdFixture({ monitoring: ALL });

  it('is absent without spec.monitoring.drift', () => {
    expect(dataDriftCondition(mdFixture({ monitoring: { accuracy: {} } }), [], STABLE)).toBeUndefined();
  });

  it.each([
    [
      'no figures yet',
      undefined,
      'False',
      'NoDrift',
      `revision ${STABLE}: no PSI yet (the routers' live window is not full)`,
    ],
    [
      'within the threshold',
      { revision: STABLE, inputPsi: 0.05, feature: 'input[3]', outputPsi: 0.01, drifted: false },
      'False',
      'NoDrift',
      `revision ${STABLE}: input PSI 0.05 on feature input[3] and output PSI 0.01 (predicted classes) within the threshold 0.2`,
    ],
    [
      'an input feature drifted',
      { revision: STABLE, inputPsi: 0.31, feature: 'input[3]', outputPsi: 0.01, drifted: true },
      'True',
      'DriftDetected',
      `revision ${STABLE}: input PSI 0.31 on feature input[3] above the threshold 0.2`,
    ],
    [
      'both drifted',
      { revision: STABLE, inputPsi: 0.31, feature: 'input[3]', outputPsi: 0.4, drifted: true },
      'True',
      'DriftDetected',
      `revision ${STABLE}: input PSI 0.31 on feature input[3] and output PSI 0.4 (predicted classes) above the threshold 0.2`,
    ],
  ] as const)('%s', (_what, stable, status, reason, message) => {
    const monitoring = [
      ...(stable ? [stable] : []),
      { revision: CANDIDATE, inputPsi: 0.9, feature: 'input[0]', drifted: true },
    ];
    expect(dataDriftCondition(md, monitoring, STABLE)).toEqual({ type: 'DataDrift', status, reason, message });
  });
});

describe('dataDriftCondition across a router restart', () => {
  const md = mdFixture({ monitoring: ALL });
  const drifted = dataDriftCondition(
    md,
    [{ revision: STABLE, inputPsi: 0.31, feature: 'x[0]', drifted: true }],
    STABLE,
  )!;
  const previous = [{ ...drifted, lastTransitionTime: T0.toISOString() }] as Condition[];

  it('stays True without figures for the same stable revision', () => {
    expect(dataDriftCondition(md, [{ revision: STABLE }], STABLE, previous)).toEqual(drifted);
  });

  it('turns False once the refilled window is within the threshold', () => {
    const clean = [{ revision: STABLE, inputPsi: 0.01, feature: 'x[0]', drifted: false }];
    expect(dataDriftCondition(md, clean, STABLE, previous)).toMatchObject({ status: 'False', reason: 'NoDrift' });
  });

  it('is False without figures for a new stable revision', () => {
    expect(dataDriftCondition(md, [{ revision: CANDIDATE }], CANDIDATE, previous)).toMatchObject({
      status: 'False',
      reason: 'NoDrift',
    });
  });
});

describe('driftEvents', () => {
  const cond = (status: 'True' | 'False', message: string): Condition => ({
    type: 'DataDrift',
    status,
    reason: status === 'True' ? 'DriftDetected' : 'NoDrift',
    message,
    lastTransitionTime: T0.toISOString(),
  });
  const st = (c?: Condition): ModelDeploymentStatus => ({ conditions: c ? [c] : [] });
  const DRIFTED = cond('True', `revision ${STABLE}: input PSI 0.31 on feature x[0] above the threshold 0.2`);
  const DRIFTED_MORE = cond('True', `revision ${STABLE}: input PSI 0.5 on feature x[0] above the threshold 0.2`);
  const OTHER = cond('True', `revision ${CANDIDATE}: input PSI 0.3 on feature x[0] above the threshold 0.2`);
  const CLEAN = cond('False', `revision ${STABLE}: input PSI 0.01 within the threshold 0.2`);

  it.each([
    ['first reconcile, no drift', undefined, CLEAN, []],
    ['drift appears', CLEAN, DRIFTED, [['Warning', 'DriftDetected', DRIFTED.message]]],
    ['drift from the first look', undefined, DRIFTED, [['Warning', 'DriftDetected', DRIFTED.message]]],
    ['drift goes on, figures move', DRIFTED, DRIFTED_MORE, []],
    ['a new stable revision drifts', DRIFTED, OTHER, [['Warning', 'DriftDetected', OTHER.message]]],
    ['drift resolves', DRIFTED, CLEAN, [['Normal', 'DriftResolved', CLEAN.message]]],
    ['no drift goes on', CLEAN, CLEAN, []],
    ['drift detection turned off while drifted', DRIFTED, undefined, []],
  ] as const)('%s', (_what, before, after, expected) => {
    const events = driftEvents(before === undefined ? undefined : st(before), st(after));
    expect(events.map((e) => [e.type, e.why.reason, e.why.message])).toEqual(expected);
  });
});

describe('computeStatus with spec.monitoring', () => {
  const OPTIONS = { serverImage: 'ghcr.io/modelship/server:1.0.0' };
  const md = mdFixture({ replicas: 1, monitoring: ALL });
  const rev = revisionOf(md);

  function observedWith(documents: RouterStatsDocument[]): Observed {
    const observed = observedAfter(desiredObjects(md, plan(md, emptyObserved(), T0), OPTIONS), 'available');
    const data = Object.fromEntries(documents.map((d) => [`${d.pod}.json`, JSON.stringify(d)]));
    return { ...observed, configMaps: [{ metadata: { name: 'digits-stats', namespace: 'ml' }, data }] };
  }

  it('writes status.monitoring and a DataDrift condition naming the drifted feature', () => {
    const observed = observedWith([
      doc('digits-router-1', {
        [rev]: { drift: drift(0.42, 0.03, 'input[12]'), accuracy: { labelled: 100, correct: 93 } },
      }),
    ]);
    const status = computeStatus(md, observed, plan(md, observed, T0), T0);
    expect(status.monitoring).toEqual([
      {
        revision: rev,
        inputPsi: 0.42,
        feature: 'input[12]',
        outputPsi: 0.03,
        drifted: true,
        labels: 100,
        accuracy: 0.93,
      },
    ]);
    expect(status.conditions?.find((c) => c.type === 'DataDrift')).toMatchObject({
      status: 'True',
      reason: 'DriftDetected',
      message: `revision ${rev}: input PSI 0.42 on feature input[12] above the threshold 0.2`,
    });
  });

  it('fits the CRD status schema, with the canary analysis accuracy and labels', async () => {
    const { compileValidator } = await import('../api/validate.js');
    const validate = compileValidator(undefined, { checkStatus: true });
    const observed = observedWith([
      doc('digits-router-1', {
        [rev]: { drift: drift(0.42, 0.03, 'input[12]'), accuracy: { labelled: 9, correct: 3 } },
      }),
    ]);
    const status = computeStatus(md, observed, plan(md, observed, T0), T0);
    const canary = {
      revision: CANDIDATE,
      phase: 'Progressing' as const,
      weight: 10,
      step: 0,
      analysis: { requests: 100, failures: 0, accuracy: 0.9, labels: 60 },
    };
    expect(validate({ ...md, status: { ...status, canary } }).errors).toEqual([]);
    // The check can fail: a field the schema does not declare is reported.
    expect(validate({ ...md, status: { ...status, monitoring: [{ revision: rev, psi: 1 }] } }).errors).toEqual([
      { path: 'status.monitoring[0].psi', message: 'unknown field' },
    ]);
  });

  it('writes neither without spec.monitoring', () => {
    const plain = mdFixture({ replicas: 1 });
    const observed = observedWith([doc('digits-router-1', { [rev]: { drift: drift(0.42, 0.03, 'input[12]') } })]);
    const status = computeStatus(plain, observed, plan(plain, observed, T0), T0);
    expect(status.monitoring).toBeUndefined();
    expect(status.conditions?.map((c) => c.type)).toEqual(['Ready', 'Reconciling', 'Stalled']);
  });

  it('keeps DataDrift through an invalid spec, so fixing the spec announces nothing again', () => {
    const observed = observedWith([doc('digits-router-1', { [rev]: { drift: drift(0.42, 0.03, 'input[12]') } })]);
    const drifted = { ...md, status: computeStatus(md, observed, plan(md, observed, T0), T0) };
    const invalid = invalidSpecStatus(drifted, [{ path: 'spec.replicas', message: 'bad' }], T0);
    expect(invalid.conditions?.find((c) => c.type === 'DataDrift')?.status).toBe('True');
    expect(driftEvents(invalid, drifted.status)).toEqual([]);
  });
});
