/**
 * `make run-local`'s foreground part (the cluster is up, the CRD installed and the example applied
 * by then): starts the operator out of cluster and the pod runner, waits until the
 * ModelDeployment is Ready and its apex Service answers on loopback, prints curls, and on
 * SIGINT/SIGTERM stops the runner, the operator and the cluster.
 *
 *   node dist/test/localpods/runLocal.js --mount /models=examples/models \
 *     [--md default/digits] [--sample examples/models/samples/digit-3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

import { clusterDown, readClusterInfo, repoRoot } from '../cluster/cluster.js';
import { waitFor } from '../cluster/wait.js';
import { KubeClient, loadKubeConfig } from '../../operator/src/kube/client.js';
import { Registry } from 'prom-client';
import { signalGroup } from './podprocess.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from './podspec.js';
import { logLine, stopOnSignals } from './main.js';
import { PodRunner } from './runner.js';

/** Generous: model verification and session creation on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 300_000;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The ModelDeployment fields this script reads. */
interface ModelDeploymentView {
  spec?: { model?: { name?: string } };
  status?: { conditions?: Condition[] };
}

/** Starts the operator in its own process group, logging to logFile. */
function startOperator(root: string, kubeconfig: string, logFile: string): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [
      join(root, 'dist/operator/src/main.js'),
      `--kubeconfig=${kubeconfig}`,
      '--metrics-host=127.0.0.1',
      '--metrics-port=0',
      '--leader-elect=false',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, KUBECONFIG: '' } },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

/** SIGTERM to the operator's group, SIGKILL after graceMs; resolves once it exited. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signalGroup(child.pid, 'SIGTERM');
  const kill = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(kill);
}

/** Stops what main started; replaced once there is something to stop. */
let stopAll: () => Promise<void> = () => Promise.resolve();

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      mount: { type: 'string', multiple: true },
      md: { type: 'string', default: 'default/digits' },
      sample: { type: 'string', default: 'examples/models/samples/digit-3' },
    },
    strict: true,
  });
  const root = repoRoot();
  const info = readClusterInfo();
  if (!info) throw new Error('read cluster info: no cluster is up (make cluster-up)');
  const [namespace, name] = values.md.split('/') as [string, string];
  const stateDir = join(root, '.state/localpods');
  mkdirSync(join(stateDir, 'logs'), { recursive: true });

  const operatorLog = join(stateDir, 'logs', 'operator.log');
  const operator = startOperator(root, info.kubeconfig, operatorLog);
  logLine(`operator started (pid ${operator.pid}), log ${relative(root, operatorLog)}`);
  const kc = loadKubeConfig(info.kubeconfig);
  const runner = new PodRunner({
    kc,
    root,
    stateDir,
    mounts: (values.mount ?? []).map((m) => parseMount(m, root)),
    repositories: DEFAULT_SERVER_REPOSITORIES,
    log: logLine,
  });
  stopAll = async (): Promise<void> => {
    await runner.stop();
    logLine('pod runner stopped');
    await stopChild(operator, 10_000);
    logLine('operator stopped');
    await clusterDown(info.paths.dir);
    logLine('cluster stopped');
  };
  stopOnSignals(() => stopAll());
  operator.once('exit', (code, signal) => {
    logLine(`operator exited (${signal ?? `code ${code}`}); see ${relative(root, operatorLog)}`);
  });
  await runner.start();

  const api = await KubeClient.create(kc, new Registry());
  const mdPath = `/apis/modelship.dev/v1alpha1/namespaces/${namespace}/modeldeployments/${name}`;
  let lastReady = '';
  const md = await waitFor(
    `ModelDeployment ${values.md} Ready`,
    async () => {
      const got = await api.request<ModelDeploymentView>({ method: 'GET', path: mdPath });
      const ready = got.status?.conditions?.find((c) => c.type === 'Ready');
      const text = ready ? `${ready.status} ${ready.reason ?? ''}: ${ready.message ?? ''}` : 'no Ready condition yet';
      if (text !== lastReady) logLine(`ModelDeployment ${values.md}: Ready=${(lastReady = text)}`);
      return ready?.status === 'True' && got;
    },
    READY_TIMEOUT_MS,
    1_000,
  );
  const url = await waitFor(
    `Service ${values.md} answering /v2/health/ready on loopback`,
    async () => {
      const u = runner.serviceUrls()[values.md];
      return u && (await fetch(`${u}/v2/health/ready`)).status === 200 ? u : undefined;
    },
    READY_TIMEOUT_MS,
    500,
  );
  const model = md.spec?.model?.name ?? name;
  process.stdout.write(
    [
      '',
      `Modelship is serving ModelDeployment ${values.md} at ${url} (Service map: ${relative(root, runner.servicesFile)})`,
      `  export KUBECONFIG=${info.kubeconfig}`,
      `  ${join(info.binDir, 'kubectl')} get modeldeployments,deployments,pods,services`,
      `  curl -s ${url}/v1/models/${model}:predict -H 'content-type: application/json' -d @${values.sample}.v1.json`,
      `  curl -s ${url}/v2/models/${model}/infer -H 'content-type: application/json' -d @${values.sample}.v2.json`,
      'Ctrl-C stops the pod runner, the operator and the cluster.',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  logLine(`run-local: ${err instanceof Error ? err.message : String(err)}`);
  stopAll().finally(() => process.exit(1));
});
