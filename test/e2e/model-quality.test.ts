/**
 * What spec.monitoring tells a user about the model itself, on the real operator, router and model
 * server processes (kwok control plane, local pods):
 * - drift: the stable serves digits with its reference profile (made from the training split, pinned
 *   by digest); test-set traffic leaves the DataDrift condition False, inverted images turn it True
 *   with the revision, the feature and the PSI, and a DriftDetected Event says so;
 * - accuracy: a client labels its own requests through the router's labels API while a canary of
 *   digits-bad (right on no digit: it answers d+1) runs with minAccuracy; the canary is rolled back
 *   for low accuracy, with the figure in status.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';

import type { ModelDeployment, MonitoringSpec } from '../../operator/src/api/types.js';
import type { PodRunner } from '../localpods/runner.js';
import { applyMd, until, type ChecksContext } from './checks.js';
import { loadKubeConfig, waitFor } from './kube.js';
import { condition } from './md.js';
import { Labeller } from './monitoring-labels.js';
import { profiledModel, sampleSet, sendWhile } from './quality.js';
import { answeringApexUrl, startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 300_000;
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const MD = 'digits';

let ns: string;
let runner: PodRunner;
const started: Partial<LocalSuite> = {};
const ctx = (): ChecksContext => ({ kc, custom, ns, runner });
let labeller: Labeller | undefined;

/** Drift over windows of 1000 rows (the default), accuracy on. */
const monitoring: MonitoringSpec = { drift: { windowRows: 1000 }, accuracy: {} };

/** The messages of the Events about the ModelDeployment with this reason. */
async function events(reason: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${MD}` });
  return list.items.filter((e) => e.reason === reason).map((e) => e.message ?? '');
}

beforeAll(async () => {
  ({ ns, runner } = await startLocalSuite(kc, 'quality', started));
  await applyMd(ctx(), MD, { model: profiledModel('digits'), replicas: 1, monitoring });
  await until(ctx(), MD, 'Ready', (m) => condition(m, 'Ready')?.status === 'True');
}, TIMEOUT);

afterAll(async () => {
  await labeller?.stop();
  await stopLocalSuite(kc, started);
}, TIMEOUT);

describe('drift against the model profile', () => {
  it(
    'stays calm on test-set digits, then marks the ModelDeployment drifted on inverted images, with an Event',
    async () => {
      const url = await answeringApexUrl(runner, ns, MD);
      const calm = await sendWhile(url, sampleSet('test.v2.jsonl'), () =>
        until(ctx(), MD, 'drift figures on a full window of test digits', (m) =>
          (m.status?.monitoring ?? []).some(
            (r) => r.revision === m.status?.stable?.revision && r.inputPsi !== undefined,
          ),
        ),
      );
      expect(condition(calm, 'DataDrift')).toMatchObject({ status: 'False', reason: 'NoDrift' });

      const drifted = await sendWhile(url, sampleSet('shifted/inverted.v2.jsonl'), () =>
        until(ctx(), MD, 'DataDrift True', (m) => condition(m, 'DataDrift')?.status === 'True'),
      );
      const stable = drifted.status!.stable!.revision;
      const figures = drifted.status!.monitoring!.find((r) => r.revision === stable)!;
      expect(figures.drifted).toBe(true);
      expect(figures.inputPsi).toBeGreaterThan(0.2);
      expect(figures.feature).toMatch(/^input\[\d+\]$/);
      expect(condition(drifted, 'DataDrift')).toMatchObject({ reason: 'DriftDetected' });
      expect(condition(drifted, 'DataDrift')!.message).toContain(stable);
      const said = await waitFor('a DriftDetected Event', async () => (await events('DriftDetected'))[0], 30_000, 250);
      expect(said).toContain(stable);
    },
    TIMEOUT,
  );
});

describe('accuracy as a canary check', () => {
  it(
    'rolls a canary of digits-bad back for low accuracy once labels flow, with the figure in status',
    async () => {
      labeller = Labeller.start(await answeringApexUrl(runner, ns, MD), 'digits', 20, 10);
      const stable = (await until(ctx(), MD, 'a stable revision', (m) => m.status?.stable !== undefined)).status!
        .stable!.revision;
      await applyMd(ctx(), MD, {
        model: profiledModel('digits-bad'),
        replicas: 1,
        monitoring,
        rollout: {
          steps: [{ weight: 50, pauseSeconds: 120 }],
          analysis: { intervalSeconds: 2, minRequests: 10, minAccuracy: 0.9, minLabels: 10, failureLimit: 2 },
        },
      });
      const md: ModelDeployment = await until(
        ctx(),
        MD,
        'the canary rolled back',
        (m) => m.status?.canary?.phase === 'RolledBack',
      );
      const canary = md.status!.canary!;
      expect(canary.reason).toBe('AccuracyTooLow');
      expect(md.status!.stable!.revision).toBe(stable);
      // digits-bad answers d+1 for every digit d: the figure in status says so.
      expect(canary.analysis!.labels).toBeGreaterThanOrEqual(1);
      expect(canary.analysis!.accuracy).toBeLessThan(0.9);
      expect(canary.message).toMatch(/accuracy/i);
      const counts = await labeller.stop();
      labeller = undefined;
      expect(counts.firstRefusal).toBeUndefined();
      expect(counts.matched).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
