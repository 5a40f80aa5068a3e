/**
 * The `modelship` CLI as a user runs it (`node dist/operator/src/cli.js`, the npm bin) against a
 * real API server and the real operator process, with the model servers and the router run by the
 * local pod runner and steady load through the apex Service, so the analysis has real figures:
 * `status` mid-canary, an action the operator refuses (exit 3 with its reason), actions it carries
 * out (exit 0 once handled), and `status --watch` following a promotion. The status output of the
 * mid-canary test is written to .state/e2e/cli-status.txt (the README's "Watching a rollout").
 */
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CustomObjectsApi } from '@kubernetes/client-node';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { repoRoot } from '../cluster/cluster.js';
import { PodRunner } from '../localpods/runner.js';
import { applyYaml, clusterInfo, loadKubeConfig, waitFor } from './kube.js';
import { Load } from './load.js';
import { condition, percentOf, readMd, statusGist } from './md.js';
import { answeringApexUrl, startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 240_000;
const root = repoRoot();
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const NAME = 'digits';

let ns: string;
let stateDir: string;
let runner: PodRunner;
let load: Load | undefined;

function model(file: 'digits' | 'digits-v2' | 'digits-bad'): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(root, 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

/** Long pauses: the rollout holds in its first step until the test acts. */
const spec = (file: 'digits' | 'digits-v2' | 'digits-bad'): ModelDeploymentSpec => ({
  model: model(file),
  replicas: 1,
  rollout: {
    steps: [
      { weight: 20, pauseSeconds: 600 },
      { weight: 60, pauseSeconds: 600 },
    ],
    analysis: { intervalSeconds: 1, minRequests: 20, maxLatencyP99Ms: 500 },
  },
});

async function applyMd(s: ModelDeploymentSpec): Promise<void> {
  await applyYaml(
    kc,
    JSON.stringify({
      apiVersion: 'modelship.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: NAME },
      spec: s,
    }),
    ns,
  );
}

async function waitForMd<T>(what: string, check: (md: ModelDeployment) => T | undefined | false): Promise<T> {
  let last: ModelDeployment | undefined;
  try {
    return await waitFor(
      `ModelDeployment ${NAME}: ${what}`,
      async () => {
        const md = await readMd(custom, ns, NAME);
        last = md;
        return check(md) || undefined;
      },
      150_000,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${statusGist(last?.status)}`, { cause: err });
  }
}

/** What one CLI run printed, how it exited, and how long it took. */
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI as a user would, with the admin kubeconfig (static certificates: the fast path). */
function cli(args: string[]): { done: Promise<Run>; stop: () => void; stdout: () => string } {
  const started = Date.now();
  const proc = spawn(
    process.execPath,
    [join(root, 'dist/operator/src/cli.js'), ...args, '-n', ns, '--kubeconfig', clusterInfo().kubeconfig],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<Run>((resolve) =>
    proc.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })),
  );
  return { done, stop: () => proc.kill('SIGINT'), stdout: () => stdout };
}

/** Appends a figure to the run's measurement log (the numbers the report quotes, never asserted). */
function measured(line: string): void {
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} ${line}\n`);
}

const started: Partial<LocalSuite> = {};

beforeAll(async () => {
  ({ ns, stateDir, runner } = await startLocalSuite(kc, 'cli', started));
  await applyMd(spec('digits'));
}, TIMEOUT);

afterAll(async () => {
  await load?.stop();
  await stopLocalSuite(kc, started);
}, TIMEOUT);

describe('modelship CLI', () => {
  let stable: string;
  let candidate: string;

  it(
    'status shows a canary mid-step: its step and pause, the weights, the analysis figures against their limits',
    async () => {
      stable = await waitForMd(
        'Ready',
        (md) => condition(md, 'Ready')?.status === 'True' && md.status?.stable?.revision,
      );
      load = Load.start({ url: await answeringApexUrl(runner, ns, NAME), model: 'digits', concurrency: 2 });
      await applyMd(spec('digits-v2'));
      candidate = await waitForMd(
        'candidate at 20% with a passed check',
        (md) =>
          md.status?.canary?.phase === 'Progressing' &&
          percentOf(md, md.status.canary.revision) === 20 &&
          md.status.canary.analysis?.lastResult === 'Passed' &&
          md.status.canary.revision,
      );

      const run = await cli(['status', NAME]).done;
      writeFileSync(join(root, '.state', 'e2e', 'cli-status.txt'), run.stdout);
      measured(`status: ${run.ms} ms`);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`Name:        ${ns}/${NAME}`);
      expect(run.stdout).toContain('Status:      Progressing');
      expect(run.stdout).toContain(`Traffic:     ${stable} 80%  ${candidate} 20%`);
      expect(run.stdout).toMatch(/ {2}Step: {6}1\/2: 20% for 600s, \d+m\d\ds of the pause left/);
      expect(run.stdout).toMatch(/ {2}Analysis: {2}Passed, \d+s ago \(every 1s\); failed checks 0 of 2/);
      expect(run.stdout).toMatch(/ {4}requests +\d+ +>= 20 +ok/);
      expect(run.stdout).toMatch(/ {4}p99 latency +[\d.]+ ms +<= 500 ms +ok/);
      expect(run.stdout).toMatch(new RegExp(`${stable} +stable +80% +1/1 `));
      expect(run.stdout).toMatch(new RegExp(`${candidate} +canary +20% +1 `));
    },
    TIMEOUT,
  );

  it(
    'exits 3 with the operator reason when it refuses an action (an abort naming another revision)',
    async () => {
      const run = await cli(['abort', NAME, '--revision', '0123456789']).done;
      measured(`refused abort: ${run.ms} ms`);
      writeFileSync(join(root, '.state', 'e2e', 'cli-refused.txt'), run.stderr);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(
        new RegExp(
          `abort ModelDeployment ${ns}/${NAME}: refused by the operator \\(ActionRefused\\): action abort:0123456789@\\S+ ` +
            `ignored: it targets revision 0123456789, the candidate is ${candidate}`,
        ),
      );
      const md = await readMd<ModelDeployment>(custom, ns, NAME);
      expect(md.status?.canary?.phase).toBe('Progressing');
    },
    TIMEOUT,
  );

  it(
    'exits 0 once the operator promoted, and status --watch follows it',
    async () => {
      const watch = cli(['status', NAME, '--watch']);
      await waitFor('the first view', () => watch.stdout().includes('Status:      Progressing'), 30_000, 50);
      const run = await cli(['promote', NAME]).done;
      measured(`promote (until the operator handled it): ${run.ms} ms`);
      writeFileSync(join(root, '.state', 'e2e', 'cli-promote.txt'), run.stderr + run.stdout);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(`promote ModelDeployment ${ns}/${NAME}: done: candidate ${candidate} promoted by action promote@`),
      );
      await waitFor('the promoted view', () => watch.stdout().includes(`Traffic:     ${candidate} 100%`), 60_000, 50);
      watch.stop();
      const watched = await watch.done;
      expect(watched.code).toBe(0);
      // Not a terminal: each change printed once more, separated by a blank line, no colour codes.
      expect(watched.stdout.split('\nName:').length).toBeGreaterThan(1);
      expect(watched.stdout).not.toContain('\x1b[');
    },
    TIMEOUT,
  );

  it(
    'an abort is carried out (exit 0); a promote after it is refused (exit 3) saying to retry',
    async () => {
      await load?.stop();
      load = undefined;
      await applyMd(spec('digits-bad'));
      const third = await waitForMd(
        'a new candidate',
        (md) =>
          md.status?.canary?.revision !== undefined &&
          md.status.canary.revision !== candidate &&
          md.status.canary.phase !== 'Pending' &&
          md.status.canary.revision,
      );
      const abort = await cli(['abort', NAME, '--timeout', '30s']).done;
      measured(`abort (until the operator handled it): ${abort.ms} ms`);
      expect(abort.code).toBe(0);
      expect(abort.stdout).toContain(`done: candidate ${third} rolled back by action abort@`);

      const promote = await cli(['promote', NAME]).done;
      expect(promote.code).toBe(3);
      expect(promote.stderr).toMatch(
        new RegExp(
          `refused by the operator \\(ActionRefused\\): action promote@\\S+ refused: ${third} was rolled back ` +
            '\\(ManualAbort\\); use retry to start it again',
        ),
      );
      const status = await cli(['status', NAME]).done;
      expect(status.stdout).toContain('Status:      Degraded');
      expect(status.stdout).toContain(`Stalled: ManualAbort: candidate ${third} rolled back by action abort@`);
    },
    TIMEOUT,
  );
});
