/**
 * The setting of the suites that run whole rollouts on local pods: a fresh namespace, the CRD, the
 * local pod runner serving examples/models at /models, and the operator process with the chart's
 * RBAC. Started in beforeAll and stopped in afterAll; what was started before a failure is still
 * stopped, as `started` fills in step by step.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { KubeConfig } from '@kubernetes/client-node';

import { repoRoot } from '../cluster/cluster.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from '../localpods/podspec.js';
import { PodRunner } from '../localpods/runner.js';
import { createTestNamespace, deleteNamespace, waitFor } from './kube.js';
import { installCrd, operatorKubeconfig, startOperator, type OperatorProcess } from './operator.harness.js';

/** One suite's namespace, state directory (logs), pod runner and operator. */
export interface LocalSuite {
  ns: string;
  stateDir: string;
  runner: PodRunner;
  op: OperatorProcess;
}

/** Starts the setting in a namespace `e2e-<prefix>-…`; `started` receives each part as it comes up. */
export async function startLocalSuite(
  kc: KubeConfig,
  prefix: string,
  started: Partial<LocalSuite> = {},
): Promise<LocalSuite> {
  const root = repoRoot();
  const ns = (started.ns = await createTestNamespace(kc, prefix));
  const stateDir = (started.stateDir = join(root, '.state', 'e2e', `${prefix}-${ns}`));
  mkdirSync(stateDir, { recursive: true });
  const runner = (started.runner = new PodRunner({
    kc,
    root,
    stateDir,
    mounts: [parseMount('/models=examples/models', root)],
    repositories: DEFAULT_SERVER_REPOSITORIES,
    namespace: ns,
    log: (m) => appendFileSync(join(stateDir, 'runner.log'), `${new Date().toISOString()} ${m}\n`),
  }));
  await installCrd(kc);
  await runner.start();
  const op = (started.op = await startOperator(await operatorKubeconfig(kc, ns), ns));
  return { ns, stateDir, runner, op };
}

/** Stops what startLocalSuite started (the operator's log kept in the state directory) and deletes the namespace. */
export async function stopLocalSuite(kc: KubeConfig, started: Partial<LocalSuite>): Promise<void> {
  const { op, runner, ns, stateDir } = started;
  if (op) {
    if (stateDir) {
      writeFileSync(join(stateDir, 'operator.log'), op.logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    await op.stop();
  }
  await runner?.stop();
  if (ns) await deleteNamespace(kc, ns);
}

/** The local URL of ModelDeployment ns/name's apex Service once it answers ready (a router holds routes). */
export function answeringApexUrl(runner: PodRunner, ns: string, name: string): Promise<string> {
  return waitFor(
    `apex Service ${ns}/${name} answering`,
    async () => {
      const url = runner.serviceUrls()[`${ns}/${name}`];
      return url && (await fetch(`${url}/v2/health/ready`)).status === 200 ? url : undefined;
    },
    120_000,
    250,
  );
}
