/**
 * The operator survives what production throws at it: being SIGKILLed in the middle of a
 * reconcile (the restarted process converges with no duplicate objects) and an API server
 * restart (watches recover and new changes are reconciled).
 *
 * Note: restarting kube-apiserver is visible to e2e files running in parallel; their waits poll
 * with deadlines and treat errors as "not yet", so they ride it out.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot, restartApiServer } from '../cluster/cluster.js';
import { applyYaml, createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from './kube.js';
import { readyMdNames } from './md.js';
import { installCrd, operatorKubeconfig, startOperator, type OperatorProcess } from './operator.harness.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 600_000;

const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const COUNT = 8;

let ns: string;
let kubeconfig: string;
let op: OperatorProcess | undefined;

function mdYaml(name: string, replicas = 1): string {
  const doc = parse(readFileSync(join(repoRoot(), 'examples/digits.yaml'), 'utf8'));
  doc.metadata.name = name;
  doc.spec.replicas = replicas;
  return stringify(doc);
}

const readyNames = (): Promise<string[]> => readyMdNames(custom, ns);

beforeAll(async () => {
  await installCrd(kc);
  ns = await createTestNamespace(kc, 'oprestart');
  kubeconfig = await operatorKubeconfig(kc, ns);
}, TIMEOUT);

afterAll(async () => {
  await op?.stop();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('operator restarts', () => {
  it(
    'converges with no duplicates after being SIGKILLed mid-reconcile',
    async () => {
      op = await startOperator(kubeconfig, ns, ['--leader-elect=false', '--workers=2']);
      const names = Array.from({ length: COUNT }, (_, i) => `kill-${i}`);
      await applyYaml(kc, names.map((n) => mdYaml(n)).join('\n---\n'), ns);
      // Kill as soon as the first reconcile has written something, so others are half done.
      await waitFor('first reconcile wrote objects', () => op!.logs.some((l) => l.msg === 'reconciled'), 120_000, 20);
      expect(await op.stop('SIGKILL')).toBeNull();
      const partial = await readyNames();
      expect(partial.length).toBeLessThan(COUNT);

      op = await startOperator(kubeconfig, ns, ['--leader-elect=false', '--workers=2']);
      await waitFor(
        'all ModelDeployments Ready after restart',
        async () => {
          const ready = await readyNames();
          if (ready.length === COUNT) return true;
          // Say which are missing and why, in case this times out.
          const missing = names.filter((n) => !ready.includes(n));
          const errors = op!.logs.filter((l) => l.level === 'error').slice(-3);
          throw new Error(`not Ready: ${missing.join(', ')}; recent operator errors: ${JSON.stringify(errors)}`);
        },
        300_000,
        1000,
      );

      const deployments = (
        await apps.listNamespacedDeployment({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=modelship' })
      ).items;
      const services = (
        await core.listNamespacedService({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=modelship' })
      ).items;
      for (const name of names) {
        const mine = deployments.filter(
          (d) =>
            d.metadata!.labels!['modelship.dev/deployment'] === name &&
            d.metadata!.labels!['app.kubernetes.io/component'] === 'server',
        );
        expect(mine).toHaveLength(1);
        expect(deployments.filter((d) => d.metadata!.name === `${name}-router`)).toHaveLength(1);
        expect(mine[0]!.metadata!.name).toMatch(new RegExp(`^${name}-[0-9a-f]+$`));
        expect(services.filter((s) => s.metadata!.labels!['modelship.dev/deployment'] === name)).toHaveLength(2);
      }
    },
    TIMEOUT,
  );

  it(
    'recovers its watches after the API server restarts',
    async () => {
      expect(op!.alive()).toBe(true);
      await restartApiServer();
      await applyYaml(kc, mdYaml('after-restart', 1), ns);
      await applyYaml(kc, mdYaml('kill-0', 2), ns);
      await waitFor(
        'new ModelDeployment Ready after the API server restart',
        async () => (await readyNames()).includes('after-restart'),
        300_000,
        1000,
      );
      await waitFor(
        'kill-0 scaled to 2 after the API server restart',
        async () => {
          const ds = (
            await apps.listNamespacedDeployment({
              namespace: ns,
              labelSelector: 'modelship.dev/deployment=kill-0,app.kubernetes.io/component=server',
            })
          ).items;
          return ds.length === 1 && ds[0]!.spec!.replicas === 2;
        },
        300_000,
        1000,
      );
      expect(op!.alive()).toBe(true);
    },
    TIMEOUT,
  );
});
