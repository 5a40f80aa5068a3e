/**
 * spec.monitoring on real pods: the kubelet runs the model server and router pods, kube-proxy routes
 * the apex Service's ClusterIP, the router pods reach each other by their pod IPs. The model serves
 * digits with its drift profile (baked into the image beside it, pinned by digest); a real payload
 * sink runs on the node's address:
 * - payload logging: the sink receives the exchanges;
 * - drift: test-set digits leave DataDrift False; inverted images turn it True, with an Event;
 * - accuracy: a client labels its own requests through the apex Service (the labels land on either
 *   router pod and are forwarded to the one that served them), and a canary of digits-bad is rolled
 *   back for low accuracy with the figure in status.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { CoreV1Api } from '@kubernetes/client-node';

import type { ModelDeploymentSpec, MonitoringSpec } from '../../operator/src/api/types.js';
import { repoRoot } from '../cluster/cluster.js';
import { nodeNetwork } from '../cluster/network.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../e2e/kube.js';
import { condition } from '../e2e/md.js';
import { Labeller } from '../e2e/monitoring-labels.js';
import { profiledModel, sampleSet, sendWhile } from '../e2e/quality.js';
import { startSink, type Sink } from '../sink/start.js';
import { Mds, installOnce, serviceUrl, stopPortForwards, target } from './pods.js';

const TIMEOUT = 600_000;
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const root = repoRoot();
const stateDir = join(root, '.state', 'e2e-pods');
const MD = 'quality';

let ns: string;
let mds: Mds;
let sink: Sink | undefined;
let labeller: Labeller | undefined;

function measured(line: string): void {
  mkdirSync(stateDir, { recursive: true });
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} monitoring: ${line}\n`);
}

/** Small requests: the stable and a canary share the one 2-CPU node with the other suites' leftovers. */
const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
};

let monitoring: MonitoringSpec;

async function eventsOf(reason: string): Promise<string[]> {
  return (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${MD}` })).items
    .filter((e) => e.reason === reason)
    .map((e) => e.message ?? '');
}

beforeAll(async () => {
  if (target().registry === undefined)
    throw new Error('monitoring e2e: needs the local real-node cluster (its payload sink runs on the node)');
  await installOnce();
  sink = await startSink({ host: nodeNetwork.nodeIp });
  monitoring = {
    // Windows of 1000 rows (the default): a smaller window's PSI is noisier on the calm set.
    drift: { windowRows: 1000 },
    accuracy: {},
    payloadLogging: { url: `${sink.url}/events`, percent: 100 },
  };
  ns = await createTestNamespace(kc, 'monitoring');
  mds = new Mds(kc, ns);
  await mds.apply(MD, { model: profiledModel('digits'), replicas: 1, server, monitoring });
  await mds.readyStable(MD);
}, TIMEOUT);

afterAll(async () => {
  await labeller?.stop();
  await sink?.stop();
  stopPortForwards();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('spec.monitoring on real pods', () => {
  it(
    'logs the exchanges to the sink, stays calm on test digits, and marks DataDrift True on inverted images with an Event',
    async () => {
      const url = await serviceUrl(kc, ns, MD);
      const calm = await sendWhile(url, sampleSet('test.v2.jsonl'), () =>
        mds.waitFor(MD, 'drift figures of the stable on a full window of test digits', (m) =>
          (m.status?.monitoring ?? []).some(
            (r) => r.revision === m.status?.stable?.revision && r.inputPsi !== undefined,
          )
            ? m
            : undefined,
        ),
      );
      expect(condition(calm, 'DataDrift')).toMatchObject({ status: 'False', reason: 'NoDrift' });
      const events = await waitFor(
        'events at the payload sink',
        async () => (await sink!.count()) || undefined,
        60_000,
        250,
      );
      expect(events).toBeGreaterThan(0);

      const drifted = await sendWhile(url, sampleSet('shifted/inverted.v2.jsonl'), () =>
        mds.waitFor(MD, 'DataDrift True', (m) => (condition(m, 'DataDrift')?.status === 'True' ? m : undefined)),
      );
      const stable = drifted.status!.stable!.revision;
      const figures = drifted.status!.monitoring!.find((r) => r.revision === stable)!;
      measured(
        `drift on real pods: calm ${JSON.stringify(calm.status?.monitoring)}; drifted ${JSON.stringify(figures)}; ${events}+ payload events`,
      );
      expect(figures).toMatchObject({ drifted: true, feature: expect.stringMatching(/^input\[\d+\]$/) });
      expect(figures.inputPsi).toBeGreaterThan(0.2);
      expect(condition(drifted, 'DataDrift')?.message).toContain(stable);
      const said = await waitFor(
        'a DriftDetected Event',
        async () => (await eventsOf('DriftDetected'))[0],
        30_000,
        250,
      );
      expect(said).toContain(stable);
    },
    TIMEOUT,
  );

  it(
    'rolls a canary of digits-bad back for low accuracy from labels posted through the apex Service',
    async () => {
      const url = await serviceUrl(kc, ns, MD);
      labeller = Labeller.start(url, 'digits', 20, 10);
      const stable = await mds.readyStable(MD);
      await mds.apply(MD, {
        model: profiledModel('digits-bad'),
        replicas: 1,
        server,
        monitoring,
        rollout: {
          steps: [{ weight: 50, pauseSeconds: 120 }],
          analysis: { intervalSeconds: 2, minRequests: 10, minAccuracy: 0.9, minLabels: 10, failureLimit: 2 },
        },
      });
      const md = await mds.waitFor(MD, 'the canary rolled back', (m) =>
        m.status?.canary?.phase === 'RolledBack' ? m : undefined,
      );
      const counts = await labeller.stop();
      labeller = undefined;
      const canary = md.status!.canary!;
      measured(`accuracy canary on real pods: ${canary.reason}: ${canary.message}; labels ${JSON.stringify(counts)}`);
      expect(canary.reason).toBe('AccuracyTooLow');
      expect(md.status!.stable!.revision).toBe(stable);
      expect(canary.analysis!.accuracy).toBeLessThan(0.9);
      expect(canary.message).toMatch(/accuracy/i);
      expect(counts.firstRefusal).toBeUndefined();
      expect(counts.matched).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
