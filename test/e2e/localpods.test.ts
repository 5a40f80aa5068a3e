/**
 * The local pod runner on the real control plane: kwok schedules and "runs" the pods, the runner
 * starts a real inference server per pod and serves the Service on loopback. Predictions go through
 * the Service's local URL; deleting the pods stops their processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { AppsV1Api, CustomObjectsApi } from '@kubernetes/client-node';

import { repoRoot } from '../cluster/cluster.js';
import { PodRunner } from '../localpods/runner.js';
import { DEFAULT_SERVER_REPOSITORIES, parseMount } from '../localpods/podspec.js';
import { applyYaml, clusterInfo, createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from './kube.js';
import { installCrd, operatorKubeconfig, startOperator, type OperatorProcess } from './operator.harness.js';

const TIMEOUT = 300_000;
const root = repoRoot();
const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

/** The fixture's digest, read from SHA256SUMS (the server refuses the model if it differs). */
const TINY_SHA256 = /^([0-9a-f]{64}) {2}tiny\.onnx$/m.exec(
  readFileSync(join(root, 'test/fixtures/models/SHA256SUMS'), 'utf8'),
)![1]!;

/** Iris flowers: a setosa and a virginica, which the tiny classifier tells apart (labels 0 and 2). */
const IRIS = {
  inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }],
};

let ns: string;
let runner: PodRunner;
const logs: string[] = [];

/** A Deployment + Service shaped like the operator's: managed-by label, server image, MODELSHIP_* env. */
function handMadeYaml(name: string): string {
  const labels = { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.dev/deployment': name };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: 'server',
                image: 'ghcr.io/modelship/modelship:0.1.0',
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [
                  { name: 'MODELSHIP_MODEL_URI', value: 'file:///fixtures/tiny.onnx' },
                  { name: 'MODELSHIP_SHA256', value: TINY_SHA256 },
                  { name: 'MODELSHIP_MODEL_NAME', value: 'tiny' },
                  // The pod's own name as the model version: responses show which pod answered.
                  { name: 'MODELSHIP_MODEL_VERSION', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'MODELSHIP_PORT', value: '8080' },
                ],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n---\n');
}

interface InferAnswer {
  status: number;
  body: { model_version?: string; outputs?: { name: string; data: unknown[] }[]; error?: string };
}

/**
 * One V2 inference on a fresh TCP connection (agent: false): the proxy balances connections, so a
 * kept-alive socket would pin every request to one pod.
 */
function infer(url: string, model: string, headers: Record<string, string> = {}): Promise<InferAnswer> {
  const payload = JSON.stringify(IRIS);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/v2/models/${model}/infer`,
      {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as InferAnswer['body'],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(new Error(`POST ${url}/v2/models/${model}/infer: ${err.message}`)));
    req.end(payload);
  });
}

/** The Service's local URL once the runner serves it and a ready pod answers behind it. */
function readyUrl(service: string): Promise<string> {
  return waitFor(
    `local URL of Service ${service} answering /v2/health/ready`,
    async () => {
      const url = runner.serviceUrls()[service];
      return url && (await fetch(`${url}/v2/health/ready`)).status === 200 ? url : undefined;
    },
    240_000,
    500,
  );
}

/** Whether pid is a live process (a zombie awaiting its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

beforeAll(async () => {
  ns = await createTestNamespace(kc, 'localpods');
  const stateDir = join(root, '.state', 'e2e', `localpods-${ns}`);
  mkdirSync(stateDir, { recursive: true });
  runner = new PodRunner({
    kc,
    root,
    stateDir,
    mounts: [parseMount('/fixtures=test/fixtures/models', root)],
    repositories: DEFAULT_SERVER_REPOSITORIES,
    namespace: ns,
    log: (m) => (logs.push(m), appendFileSync(join(stateDir, 'runner.log'), `${new Date().toISOString()} ${m}\n`)),
  });
  await runner.start();
}, TIMEOUT);

afterAll(async () => {
  await runner?.stop();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('pods made by hand', () => {
  it(
    'serves real predictions through the Service, round robin over both pods, and stops the processes when the pods go',
    async () => {
      await applyYaml(kc, handMadeYaml('tiny'), ns);
      const url = await readyUrl(`${ns}/tiny`);
      await waitFor('both pods ready', () => runner.readyPods().length === 2, 240_000, 500);
      // Connection by connection the proxy alternates between the two pods (the version is the pod's name).
      const answers: InferAnswer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await infer(url, 'tiny'));
      for (const { status, body } of answers) {
        expect(status).toBe(200);
        expect(body.outputs?.find((o) => o.name === 'label')?.data).toEqual([0, 2]);
      }
      const served = answers.map((a) => a.body.model_version);
      const podNames = runner.readyPods().map((p) => p.split('/')[1]);
      expect(new Set(served)).toEqual(new Set(podNames));
      expect(served[0]).not.toBe(served[1]);
      expect(served.slice(2)).toEqual(served.slice(0, 2));
      const pids = podNames.map((p) => runner.pidOf(`${ns}/${p}`));
      expect(pids.every((pid) => pid !== undefined && alive(pid))).toBe(true);

      await apps.deleteNamespacedDeployment({ name: 'tiny', namespace: ns });
      await waitFor('local processes of the deleted pods gone', () => pids.every((pid) => !alive(pid!)), 120_000, 500);
      const after = await fetch(`${url}/v2/health/ready`);
      expect(after.status).toBe(503);
      expect(await after.json()).toEqual({ error: `no ready pod behind Service ${ns}/tiny` });
    },
    TIMEOUT,
  );

  it(
    'does not start a pod whose model lies outside every mount, and says why',
    async () => {
      await applyYaml(
        kc,
        handMadeYaml('unmounted').replace('file:///fixtures/tiny.onnx', 'file:///elsewhere/tiny.onnx'),
        ns,
      );
      const line = await waitFor(
        'the runner explaining the unmounted model',
        () => logs.find((l) => l.includes('not started') && l.includes('/elsewhere/tiny.onnx')),
        120_000,
        500,
      );
      expect(line).toMatch(new RegExp(`pod ${ns}/unmounted-.*no --mount covers /elsewhere/tiny.onnx`));
      await apps.deleteNamespacedDeployment({ name: 'unmounted', namespace: ns });
    },
    TIMEOUT,
  );
});

describe('a real ModelDeployment through the operator', () => {
  let op: OperatorProcess | undefined;
  afterAll(async () => {
    await op?.stop();
  }, TIMEOUT);

  it(
    'serves the apex Service once the ModelDeployment is Ready',
    async () => {
      await installCrd(kc);
      op = await startOperator(await operatorKubeconfig(kc, ns), ns);
      await applyYaml(
        kc,
        JSON.stringify({
          apiVersion: 'modelship.dev/v1alpha1',
          kind: 'ModelDeployment',
          metadata: { name: 'iris' },
          spec: { model: { uri: 'file:///fixtures/tiny.onnx', sha256: TINY_SHA256, name: 'tiny' }, replicas: 1 },
        }),
        ns,
      );
      await waitFor(
        'ModelDeployment iris Ready',
        async () => {
          const md = (await custom.getNamespacedCustomObject({
            group: 'modelship.dev',
            version: 'v1alpha1',
            namespace: ns,
            plural: 'modeldeployments',
            name: 'iris',
          })) as {
            status?: { conditions?: { type: string; status: string }[] };
          };
          return md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        },
        240_000,
        1_000,
      );
      const url = await readyUrl(`${ns}/iris`);
      const { status, body } = await infer(url, 'tiny');
      expect(status).toBe(200);
      expect(body.outputs?.find((o) => o.name === 'label')?.data).toEqual([0, 2]);
    },
    TIMEOUT,
  );

  it(
    "mounts the auth token Secret locally: no token 401, the Secret's token 200",
    async () => {
      await applyYaml(
        kc,
        [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'guarded-tokens' },
            stringData: { token: 'local-e2e-token\n' },
          },
          {
            apiVersion: 'modelship.dev/v1alpha1',
            kind: 'ModelDeployment',
            metadata: { name: 'guarded' },
            spec: {
              model: { uri: 'file:///fixtures/tiny.onnx', sha256: TINY_SHA256, name: 'tiny' },
              replicas: 1,
              auth: { tokenSecretRef: { name: 'guarded-tokens' } },
            },
          },
        ]
          .map((o) => JSON.stringify(o))
          .join('\n---\n'),
        ns,
      );
      const url = await readyUrl(`${ns}/guarded`);
      const anonymous = await infer(url, 'tiny');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toMatch(/missing bearer token/);
      const wrong = await infer(url, 'tiny', { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      const allowed = await infer(url, 'tiny', { authorization: 'Bearer local-e2e-token' });
      expect(allowed.status).toBe(200);
      expect(allowed.body.outputs?.find((o) => o.name === 'label')?.data).toEqual([0, 2]);
    },
    TIMEOUT,
  );
});

describe('the command line', () => {
  const stateDir = (): string => join(root, '.state', 'e2e', `localpods-cli-${ns}`);
  const children: ChildProcess[] = [];

  /** Starts `node dist/test/localpods/main.js` for the test namespace; resolves once it exited when asked. */
  function startCli(): { proc: ChildProcess; exited: Promise<number | null> } {
    const args = [
      'dist/test/localpods/main.js',
      `--kubeconfig=${process.env.MODELSHIP_E2E_KUBECONFIG ?? clusterInfo().kubeconfig}`,
      `--namespace=${ns}`,
      '--mount=/fixtures=test/fixtures/models',
      `--state-dir=${stateDir()}`,
    ];
    const proc = spawn(process.execPath, args, { cwd: root, stdio: 'ignore' });
    children.push(proc);
    return { proc, exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
  }

  /** Pids the CLI records once both pods' processes of Deployment cli run. */
  function recordedPids(): Promise<number[]> {
    return waitFor(
      'two server pids recorded by the CLI',
      () => {
        const recorded = JSON.parse(readFileSync(join(stateDir(), 'pids.json'), 'utf8')) as Record<string, number>;
        const pids = Object.entries(recorded)
          .filter(([pod]) => pod.startsWith(`${ns}/cli-`))
          .map(([, pid]) => pid);
        return pids.length === 2 && pids.every(alive) ? pids : undefined;
      },
      120_000,
      500,
    );
  }

  beforeAll(async () => {
    const pids = runner.readyPods().map((p) => runner.pidOf(p)!);
    await runner.stop();
    expect(pids.filter(alive)).toEqual([]);
    await applyYaml(kc, handMadeYaml('cli'), ns);
  }, TIMEOUT);

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it(
    'serves the Service until SIGINT, then leaves no process behind',
    async () => {
      const { proc, exited } = startCli();
      await waitFor(
        'the CLI serving Service cli',
        async () => {
          const url = (JSON.parse(readFileSync(join(stateDir(), 'services.json'), 'utf8')) as Record<string, string>)[
            `${ns}/cli`
          ];
          return url && (await infer(url, 'tiny')).status === 200;
        },
        240_000,
        500,
      );
      const pids = await recordedPids();
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(pids.filter(alive)).toEqual([]);
      expect(existsSync(join(stateDir(), 'services.json'))).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'after kill -9, the next start ends the processes the dead runner left',
    async () => {
      const first = startCli();
      const pids = await recordedPids();
      first.proc.kill('SIGKILL');
      await first.exited;
      expect(pids.filter(alive)).toEqual(pids);
      const second = startCli();
      await waitFor('orphans of the killed runner gone', () => pids.every((pid) => !alive(pid)), 60_000, 250);
      const own = await recordedPids();
      expect(own.filter((pid) => pids.includes(pid))).toEqual([]);
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(own.filter(alive)).toEqual([]);
    },
    TIMEOUT,
  );
});
