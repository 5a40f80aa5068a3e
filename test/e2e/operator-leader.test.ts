/**
 * Two operator processes, one Lease: exactly one leads and reconciles; when the leader is
 * SIGKILLed the other takes over once the lease expires; a leader stopped with SIGTERM releases
 * the lease so its successor need not wait for expiry.
 */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../cluster/cluster.js';
import { applyYaml, createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from './kube.js';
import { installCrd, operatorKubeconfig, startOperator, type OperatorProcess } from './operator.harness.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 300_000;

const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const coordination = kc.makeApiClient(CoordinationV1Api);

let ns: string;
let kubeconfig: string;
const ops: OperatorProcess[] = [];

function mdYaml(name: string): string {
  const doc = parse(readFileSync(join(repoRoot(), 'examples/digits.yaml'), 'utf8'));
  doc.metadata.name = name;
  doc.spec.replicas = 1;
  return stringify(doc);
}

async function isReady(name: string): Promise<boolean> {
  const md = (await custom.getNamespacedCustomObject({
    group: 'modelship.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'modeldeployments',
    name,
  })) as {
    status?: { conditions?: { type: string; status: string }[] };
  };
  return md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function leaders(candidates: OperatorProcess[]): Promise<OperatorProcess[]> {
  const flags = await Promise.all(candidates.map(async (o) => (o.alive() ? o.metric('modelship_leader') : 0)));
  return candidates.filter((_, i) => flags[i] === 1);
}

async function start(): Promise<OperatorProcess> {
  const op = await startOperator(kubeconfig, ns, ['--leader-elect=true']);
  ops.push(op);
  return op;
}

beforeAll(async () => {
  await installCrd(kc);
  ns = await createTestNamespace(kc, 'opleader');
  kubeconfig = await operatorKubeconfig(kc, ns);
}, TIMEOUT);

afterAll(async () => {
  await Promise.all(ops.map((o) => o.stop()));
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('leader election', () => {
  it(
    'runs exactly one leader; the follower takes over when the leader is killed',
    async () => {
      const a = await start();
      const b = await start();
      const [leader] = await waitFor(
        'one leader',
        async () => ((await leaders([a, b])).length === 1 ? leaders([a, b]) : undefined),
        60_000,
        500,
      );
      const follower = leader === a ? b : a;
      await applyYaml(kc, mdYaml('first'), ns);
      await waitFor('first Ready', () => isReady('first'), 180_000, 500);
      // The follower never reconciled anything.
      expect(await follower.metric('modelship_reconcile_total')).toBe(0);
      expect(await leader!.metric('modelship_reconcile_total')).toBeGreaterThan(0);

      await leader!.stop('SIGKILL');
      await waitFor('follower leads', async () => (await follower.metric('modelship_leader')) === 1, 120_000, 500);
      await applyYaml(kc, mdYaml('second'), ns);
      await waitFor('second Ready under the new leader', () => isReady('second'), 180_000, 500);
      const lease = await coordination.readNamespacedLease({ namespace: ns, name: 'modelship-operator' });
      expect(lease.spec!.leaseTransitions).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT,
  );

  it(
    'hands over through the released lease on SIGTERM',
    async () => {
      const current = (await leaders(ops))[0]!;
      const next = await start();
      expect(await next.metric('modelship_leader')).toBe(0);
      expect(await current.stop('SIGTERM')).toBe(0);
      expect(current.logs.some((l) => l.msg === 'stopped')).toBe(true);
      await waitFor(
        'new process leads after the release',
        async () => (await next.metric('modelship_leader')) === 1,
        60_000,
        250,
      );
      const lease = await coordination.readNamespacedLease({ namespace: ns, name: 'modelship-operator' });
      expect(lease.spec!.holderIdentity).toBe(next.logs.find((l) => l.msg === 'starting')!.identity);
    },
    TIMEOUT,
  );
});
