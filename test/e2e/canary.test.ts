/**
 * Canary rollouts end to end, as a user sees them: the real operator process (with the chart's
 * RBAC) on a real API server, and the local pod runner running the model servers and the builtin
 * router as processes, with steady load through the apex Service. The digits models of
 * examples/models: digits (stable), digits-v2 (a good candidate), digits-bad (wrong answers),
 * digits-slow (slow), digits-faulty (fails on 40% of inputs).
 *
 * Each test asserts what a client would notice (failed requests, wrong answers, which revision
 * answered: x-modelship-revision) and what `kubectl get md` shows (status.canary, traffic,
 * conditions).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';

import type { ModelDeployment, ModelDeploymentSpec, ProgressDeadlinePolicy } from '../../operator/src/api/types.js';
import { LABEL } from '../../operator/src/desired/names.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { binDir, repoRoot } from '../cluster/cluster.js';
import { PodRunner } from '../localpods/runner.js';
import { applyYaml, clusterInfo, loadKubeConfig, waitFor } from './kube.js';
import { gitopsHealth, waitForHealth } from './gitops.js';
import { Load, summarize, type Outcome } from './load.js';
import { condition, percentOf, promotedFrom, readMd, routeOf, statusGist } from './md.js';
import { answeringApexUrl, startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 240_000;
const root = repoRoot();
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);

/** The model block of a spec for examples/models/<file>.onnx, digest from SHA256SUMS. */
function model(
  file: 'digits' | 'digits-v2' | 'digits-bad' | 'digits-slow' | 'digits-faulty',
): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(root, 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

/**
 * Seconds between analysis checks, the same for a ModelDeployment's whole life: the router's stats
 * interval follows it, and changing it replaces the router pods.
 */
const INTERVAL = 1;
/** A spec serving digits as the only revision. */
const stableSpec = (): ModelDeploymentSpec => ({
  model: model('digits'),
  replicas: 1,
  rollout: { analysis: { intervalSeconds: INTERVAL } },
});

let ns: string;
let stateDir: string;
let runner: PodRunner;

const getMd = (name: string): Promise<ModelDeployment> => readMd(custom, ns, name);

/** The kubeconfig a user's kubectl or the CLI would use. */
const userKubeconfig = (): string => process.env.MODELSHIP_E2E_KUBECONFIG ?? clusterInfo().kubeconfig;

/**
 * `kubectl get md <name>` as a user runs it: the printed table, and its one row by column header.
 * Cells are cut at the headers' positions, so an empty cell reads as ''.
 */
async function kubectlGetMd(name: string): Promise<{ table: string; row: Record<string, string> }> {
  const { stdout } = await promisify(execFile)(join(binDir(), 'kubectl'), [
    'get',
    'md',
    name,
    '-n',
    ns,
    '--kubeconfig',
    userKubeconfig(),
  ]);
  const [header, line] = stdout.trimEnd().split('\n') as [string, string];
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
  const row = Object.fromEntries(
    starts.map((start, i) => [header.slice(start).split(/\s/)[0]!, line.slice(start, starts[i + 1]).trim()]),
  );
  return { table: stdout, row };
}

/**
 * The Warning Events about ModelDeployment `name` with this reason, once the first is there and a
 * moment more has passed (the Events of one transition are written together).
 */
async function warnings(name: string, reason: string, about: string): Promise<string[]> {
  const list = async () =>
    (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` })).items
      .filter((e) => e.type === 'Warning' && e.reason === reason && (e.message ?? '').includes(about))
      .map((e) => e.message ?? '');
  await waitFor(`a Warning ${reason} about ${name}`, async () => (await list()).length > 0 || undefined, 30_000, 250);
  await new Promise((r) => setTimeout(r, 2_000));
  return list();
}

/** Server-side applies the whole spec (fields left out are removed: the test owns them all). */
async function applyMd(name: string, spec: ModelDeploymentSpec): Promise<void> {
  await applyYaml(
    kc,
    JSON.stringify({ apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name }, spec }),
    ns,
  );
}

/** Polls the ModelDeployment until check returns a value; the last status is in the timeout error. */
async function waitForMd<T>(
  name: string,
  what: string,
  check: (md: ModelDeployment) => T | undefined | false,
  timeoutMs = 150_000,
): Promise<T> {
  let last: ModelDeployment | undefined;
  try {
    return await waitFor(
      `ModelDeployment ${name}: ${what}`,
      async () => {
        last = await getMd(name);
        return check(last) || undefined;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${statusGist(last?.status)}`, { cause: err });
  }
}

/** Waits until the ModelDeployment serves its first revision: Ready, with a stable revision. */
function readyStable(name: string): Promise<string> {
  return waitForMd(
    name,
    'Ready with a stable revision',
    (md) => condition(md, 'Ready')?.status === 'True' && md.status?.stable?.revision,
  );
}

/** The apex Service's local URL once it answers ready (a router holds routes). */
function apexUrl(name: string): Promise<string> {
  return answeringApexUrl(runner, ns, name);
}

/** Waits until `n` requests in a row, sent after this call, all came back 200 from revision route. */
async function allNewRequestsOn(load: Load, route: string, n = 100): Promise<number> {
  const since = Date.now();
  return waitFor(
    `${n} requests in a row answered by ${route}`,
    () => {
      const recent = load.since(since).sort((a, b) => a.at - b.at);
      let streak = 0;
      for (const o of recent) streak = o.status === 200 && o.revision === route ? streak + 1 : 0;
      return streak >= n ? recent.length : undefined;
    },
    60_000,
    100,
  );
}

/**
 * The figure, in percent or ms, a rollback message gives for a broken limit, or NaN. `share`
 * matches the early form (`<bad> of|in <total> ...`, before minRequests were seen): the percent
 * is then computed, as bad/total or (with `inverse`) 100 - bad/total.
 */
function figure(md: ModelDeployment, value: RegExp, share?: RegExp, inverse = false): number {
  const message = md.status?.canary?.message ?? '';
  const m = value.exec(message);
  if (m) return Number(m[1]);
  const e = share?.exec(message);
  if (!e) return NaN;
  const percent = (100 * Number(e[1])) / Number(e[2]);
  return inverse ? 100 - percent : percent;
}

/** Requests per second over a set of outcomes. */
function ratePerSecond(outcomes: readonly Outcome[]): number {
  if (outcomes.length < 2) return 0;
  const ats = outcomes.map((o) => o.at);
  return outcomes.length / Math.max(1, (Math.max(...ats) - Math.min(...ats)) / 1000);
}

const running = new Set<Load>();

/** Starts a load that afterEach stops if the test did not (a failed test must not leave loops spinning). */
function startLoad(opts: Parameters<typeof Load.start>[0]): Load {
  const load = Load.start(opts);
  running.add(load);
  return load;
}

afterEach(async () => {
  await Promise.all([...running].map((l) => l.stop()));
  running.clear();
});

/** Appends a figure to the run's measurement log (the numbers the report quotes). */
function measured(line: string): void {
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} ${line}\n`);
}

const started: Partial<LocalSuite> = {};

beforeAll(async () => {
  ({ ns, stateDir, runner } = await startLocalSuite(kc, 'canary', started));
  // Every stable starts at once: their processes load while the first tests run.
  await Promise.all(['split', 'good', 'bad'].map((name) => applyMd(name, stableSpec())));
}, TIMEOUT);

afterAll(() => stopLocalSuite(kc, started), TIMEOUT);

describe('canary rollouts through the builtin router', () => {
  it(
    'splits 10,000 requests within 1.5 points of a fixed 10/90 weight',
    async () => {
      const stable = routeOf('split', await readyStable('split'));
      await applyMd('split', {
        model: model('digits-v2'),
        replicas: 1,
        rollout: { weight: 10, analysis: { intervalSeconds: INTERVAL, minRequests: 20 } },
      });
      const candidate = routeOf(
        'split',
        await waitForMd(
          'split',
          'candidate held at 10%',
          (md) => md.status?.canary && percentOf(md, md.status.canary.revision) === 10 && md.status.canary.revision,
        ),
      );
      const url = await apexUrl('split');
      // The weight reaches both router processes through their routes watch: a few requests show it.
      const probe = startLoad({ url, model: 'digits', concurrency: 2 });
      await waitFor('the candidate answering', () => probe.outcomes.some((o) => o.revision === candidate), 30_000, 50);
      await probe.stop();

      const outcomes = await startLoad({ url, model: 'digits', concurrency: 4, total: 10_000 }).done();
      const s = summarize(outcomes);
      const share = (100 * (s.byRevision[candidate] ?? 0)) / s.requests;
      measured(
        `split: ${JSON.stringify(s.byRevision)} candidate share ${share.toFixed(2)}% at ${ratePerSecond(outcomes).toFixed(0)} req/s`,
      );
      expect({
        requests: s.requests,
        failed: s.failed,
        wrong: s.wrong,
        revisions: Object.keys(s.byRevision).sort(),
      }).toEqual({ requests: 10_000, failed: 0, wrong: 0, revisions: [candidate, stable].sort() });
      expect(Math.abs(share - 10)).toBeLessThanOrEqual(1.5);
    },
    TIMEOUT,
  );

  it(
    'rolls back at once when the spec is reverted to the stable model mid-rollout',
    async () => {
      const md0 = await getMd('split');
      const stable = routeOf('split', md0.status!.stable!.revision);
      await applyMd('split', {
        model: model('digits-v2'),
        replicas: 1,
        rollout: {
          steps: [{ weight: 30, pauseSeconds: 600 }],
          analysis: { intervalSeconds: INTERVAL, minRequests: 20 },
        },
      });
      const candidate = routeOf(
        'split',
        await waitForMd(
          'split',
          'candidate progressing at 30%',
          (md) =>
            md.status?.canary?.phase === 'Progressing' &&
            percentOf(md, md.status.canary.revision) === 30 &&
            md.status.canary.revision,
        ),
      );
      const load = startLoad({ url: await apexUrl('split'), model: 'digits', concurrency: 4 });
      await waitFor(
        'the candidate answering live traffic',
        () => load.outcomes.some((o) => o.revision === candidate),
        30_000,
        50,
      );

      const revertedAt = Date.now();
      await applyMd('split', {
        model: model('digits'),
        replicas: 1,
        rollout: {
          steps: [{ weight: 30, pauseSeconds: 600 }],
          analysis: { intervalSeconds: INTERVAL, minRequests: 20 },
        },
      });
      // The spec names the stable again, so no canary remains; history and an Event record the rollback.
      const md = await waitForMd(
        'split',
        'candidate rolled back',
        (m) =>
          m.status?.history?.some((h) => routeOf('split', h.revision) === candidate && h.outcome === 'RolledBack') && m,
      );
      const reported = Date.now() - revertedAt;
      await allNewRequestsOn(load, stable);
      const outcomes = await load.stop();
      const lastOnCandidate = Math.max(...outcomes.filter((o) => o.revision === candidate).map((o) => o.at));
      measured(
        `revert: status RolledBack within ${reported} ms of the apply; last request on the candidate sent ${lastOnCandidate - revertedAt} ms after it`,
      );

      expect(md.status?.history?.at(-1)).toMatchObject({ outcome: 'RolledBack', reason: 'SpecReverted' });
      expect(!md.status?.canary || md.status.canary.phase === 'RolledBack').toBe(true);
      expect(percentOf(md, stable)).toBe(100);
      expect(md.status?.stable?.revision && routeOf('split', md.status.stable.revision)).toBe(stable);
      expect(condition(md, 'Ready')?.status).toBe('True');
      const s = summarize(outcomes);
      expect({ failed: s.failed, wrong: s.wrong }).toEqual({ failed: 0, wrong: 0 });
    },
    TIMEOUT,
  );

  let promoted: { previous: string; current: string } | undefined;

  it(
    'progresses a good model through its steps to Promoted with zero failed requests, keeping the old revision warm',
    async () => {
      const previous = routeOf('good', await readyStable('good'));
      // A settled ModelDeployment: what Argo CD (the chart's health.lua) and Flux (kstatus) show.
      await waitForHealth('good, settled', () => getMd('good'), 'Healthy', 'Current');
      const load = startLoad({ url: await apexUrl('good'), model: 'digits', concurrency: 4 });
      await applyMd('good', {
        model: model('digits-v2'),
        replicas: 1,
        rollout: {
          steps: [
            { weight: 10, pauseSeconds: 3 },
            { weight: 50, pauseSeconds: 3 },
          ],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10, maxErrorRate: 0.01, failureLimit: 2 },
          retainPreviousSeconds: 600,
        },
      });
      // The first status seen at each live weight of the canary.
      const steps = new Map<number, ModelDeployment>();
      // Once promoted the candidate is the stable revision and status.canary is gone.
      const md = await waitForMd('good', 'candidate promoted: the new stable serving 100%', (m) => {
        if (m.status?.canary?.phase === 'Progressing' && !steps.has(m.status.canary.weight))
          steps.set(m.status.canary.weight, m);
        return promotedFrom(m, previous) && m;
      });
      const current = routeOf('good', md.status!.stable!.revision);
      await allNewRequestsOn(load, current);
      const outcomes = await load.stop();
      const s = summarize(outcomes);
      measured(
        `promotion: ${s.requests} requests during the rollout, ${JSON.stringify(s.byRevision)}, statuses ${JSON.stringify(s.byStatus)}`,
      );

      expect([...steps.keys()].sort((a, b) => a - b)).toEqual([10, 50]);
      // Each step as GitOps tools showed it: in progress, the step and weight in Argo CD's message.
      expect(await gitopsHealth([steps.get(10)!, steps.get(50)!])).toEqual([
        {
          argocd: { status: 'Progressing', message: expect.stringContaining('step 1 at 10%') },
          kstatus: expect.objectContaining({ status: 'InProgress' }),
        },
        {
          argocd: { status: 'Progressing', message: expect.stringContaining('step 2 at 50%') },
          kstatus: expect.objectContaining({ status: 'InProgress' }),
        },
      ]);
      await waitForHealth('good, promoted', () => getMd('good'), 'Healthy', 'Current');
      expect({ failed: s.failed, wrong: s.wrong }).toEqual({ failed: 0, wrong: 0 });
      expect(s.byRevision[previous]).toBeGreaterThan(0);
      expect(s.byRevision[current]).toBeGreaterThan(0);
      expect(condition(md, 'Ready')?.status).toBe('True');
      expect(md.status?.history?.some((h) => routeOf('good', h.revision) === current && h.outcome === 'Promoted')).toBe(
        true,
      );
      // The old revision stays warm: listed as retained, its Deployment still runs its pod.
      expect(md.status?.retained?.map((r) => routeOf('good', r.revision))).toEqual([previous]);
      const old = await apps.readNamespacedDeployment({ name: previous, namespace: ns });
      expect(old.spec?.replicas).toBeGreaterThanOrEqual(1);
      expect(runner.readyPods().some((p) => p.startsWith(`${ns}/${previous}-`))).toBe(true);
      promoted = { previous, current };
    },
    TIMEOUT,
  );

  it(
    'rolls back after promotion instantly: every new request on the warm retained revision, no failure, no restart',
    async () => {
      if (!promoted) throw new Error('needs the promotion of the previous test');
      const { previous, current } = promoted;
      const warm = runner.readyPods().filter((p) => p.startsWith(`${ns}/${previous}-`));
      const pids = warm.map((p) => runner.pidOf(p));
      expect(warm.length).toBeGreaterThan(0);
      const load = startLoad({ url: await apexUrl('good'), model: 'digits', concurrency: 4 });
      await allNewRequestsOn(load, current, 50);

      const actionAt = Date.now();
      const cli = spawn(
        process.execPath,
        ['dist/operator/src/cli.js', 'rollback', 'good', '-n', ns, '--kubeconfig', userKubeconfig()],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let cliOutput = '';
      cli.stdout.on('data', (c: Buffer) => (cliOutput += c.toString()));
      cli.stderr.on('data', (c: Buffer) => (cliOutput += c.toString()));
      const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
      // The annotation is written by now; the CLI's own start-up (node, client) is not the router's doing.
      const writtenAt = Date.now();
      expect({ code, cliOutput }).toEqual({ code: 0, cliOutput: expect.any(String) as unknown as string });
      await allNewRequestsOn(load, previous);
      const outcomes = await load.stop();
      const afterAction = outcomes.filter((o) => o.at >= actionAt);
      const lastOnCurrent = Math.max(actionAt, ...afterAction.filter((o) => o.revision === current).map((o) => o.at));
      measured(
        `rollback after promotion: last request on ${current} sent ${lastOnCurrent - actionAt} ms after the CLI started, ` +
          `${lastOnCurrent - writtenAt} ms after it exited (annotation written); ${afterAction.length} requests since, ${summarize(afterAction).failed} failed`,
      );

      const md = await waitForMd(
        'good',
        'traffic 100% on the retained revision',
        (m) => percentOf(m, previous) === 100 && m,
      );
      expect(routeOf('good', md.status!.stable!.revision)).toBe(previous);
      expect(condition(md, 'Ready')?.status).toBe('True');
      // A rollback is a failed release to GitOps tools too, though the retained revision serves.
      await waitForHealth('good, rolled back', () => getMd('good'), 'Degraded', 'Failed');
      const s = summarize(outcomes);
      expect({ failed: s.failed, wrong: s.wrong }).toEqual({ failed: 0, wrong: 0 });
      // No cold start: the very processes that were warm before the action answered after it.
      expect(warm.map((p) => runner.pidOf(p))).toEqual(pids);
    },
    TIMEOUT,
  );

  describe('a bad candidate is rolled back automatically for its own reason', () => {
    const steps = [
      { weight: 20, pauseSeconds: 60 },
      { weight: 50, pauseSeconds: 60 },
    ];
    const analysisBase = { intervalSeconds: INTERVAL, minRequests: 10, failureLimit: 2 };

    /**
     * Rolls out `candidate` on ModelDeployment bad under steady load and waits for the automatic
     * rollback; returns the final status, the outcomes and the client-visible harm the analysis
     * window allows: (failureLimit + 3) intervals of the candidate's live share of the traffic.
     */
    async function rolledBack(candidate: Parameters<typeof model>[0], analysis: Record<string, number>) {
      const stable = routeOf('bad', await readyStable('bad'));
      const earlier = (await getMd('bad')).status?.canary?.revision;
      const load = startLoad({ url: await apexUrl('bad'), model: 'digits', concurrency: 4 });
      await applyMd('bad', {
        model: model(candidate),
        replicas: 1,
        rollout: { steps, analysis: { ...analysisBase, ...analysis } },
      });
      // The previous candidate's RolledBack stays in status until this one replaces it.
      const md = await waitForMd(
        'bad',
        `candidate ${candidate} rolled back`,
        (m) => m.status?.canary?.revision !== earlier && m.status?.canary?.phase === 'RolledBack' && m,
      );
      await allNewRequestsOn(load, stable);
      const outcomes = await load.stop();
      const route = routeOf('bad', md.status!.canary!.revision);
      const allowed = Math.ceil(
        (analysisBase.failureLimit + 3) *
          analysisBase.intervalSeconds *
          ratePerSecond(outcomes) *
          (steps[0]!.weight / 100),
      );
      const s = summarize(outcomes);
      measured(
        `${candidate}: ${md.status?.canary?.reason}: ${md.status?.canary?.message} | client saw ${JSON.stringify(s)}; window allows ${allowed}`,
      );
      expect(md.status?.canary?.weight).toBe(0);
      expect(percentOf(md, stable)).toBe(100);
      expect(condition(md, 'Ready')?.status).toBe('True');
      expect(condition(md, 'Stalled')).toMatchObject({ status: 'True', reason: md.status?.canary?.reason });
      // Argo CD and Flux show the rollback as a failure, with its reason, not as a healthy app.
      expect(await gitopsHealth([md])).toEqual([
        {
          argocd: { status: 'Degraded', message: expect.stringContaining(md.status!.canary!.reason!) },
          kstatus: expect.objectContaining({ status: 'Failed' }),
        },
      ]);
      // One rollback, one Warning: its reason, what serves and the ways on.
      const candidateRevision = md.status!.canary!.revision;
      expect(await warnings('bad', md.status!.canary!.reason!, `candidate ${candidateRevision} rolled back`)).toEqual([
        condition(md, 'Stalled')!.message,
      ]);
      // Only the candidate misbehaved, and no longer than the analysis window allows.
      expect(outcomes.filter((o) => (o.status !== 200 || o.correct === false) && o.revision !== route)).toEqual([]);
      expect(s.failed + s.wrong).toBeLessThanOrEqual(allowed);
      return { md, summary: s, route };
    }

    it(
      'disagreeing (digits-bad, mirrored agreement below minAgreement): AgreementTooLow',
      async () => {
        const { md, summary } = await rolledBack('digits-bad', { minAgreement: 0.9 });
        expect(md.status?.canary?.reason).toMatch(/^(AgreementTooLow|AnalysisFailed)$/);
        expect(
          figure(md, /agreement ([\d.]+)% < 90%/, /(\d+) of (\d+) mirrored responses disagreed/, true),
        ).toBeLessThan(90);
        expect(summary.failed).toBe(0);
      },
      TIMEOUT,
    );

    it(
      'slow (digits-slow, p99 above maxLatencyP99Ms): LatencyExceeded',
      async () => {
        const { md, summary } = await rolledBack('digits-slow', { maxLatencyP99Ms: 40 });
        expect(md.status?.canary?.reason).toMatch(/^(LatencyExceeded|AnalysisFailed)$/);
        expect(figure(md, /p99 latency ([\d.]+)ms > 40ms/)).toBeGreaterThan(40);
        expect({ failed: summary.failed, wrong: summary.wrong }).toEqual({ failed: 0, wrong: 0 });
      },
      TIMEOUT,
    );

    it(
      'erroring (digits-faulty, error rate above maxErrorRate): ErrorRateExceeded',
      async () => {
        const { md, summary } = await rolledBack('digits-faulty', { maxErrorRate: 0.05 });
        expect(md.status?.canary?.reason).toMatch(/^(ErrorRateExceeded|AnalysisFailed)$/);
        expect(figure(md, /error rate ([\d.]+)% > 5%/, /(\d+) errors in (\d+) requests/)).toBeGreaterThan(5);
        expect(summary.failed).toBeGreaterThan(0);
      },
      TIMEOUT,
    );
  });

  // Regression: the stats keys of replaced router pods stay in <md>-stats for a while; they once
  // pinned every analysis window's start before the step's, so no step could ever pass.
  it(
    'keeps progressing after its router pods are replaced mid-canary',
    async () => {
      await applyMd('moved', stableSpec());
      await readyStable('moved');
      const load = startLoad({ url: await apexUrl('moved'), model: 'digits', concurrency: 2 });
      await applyMd('moved', {
        model: model('digits-v2'),
        replicas: 1,
        rollout: {
          steps: [
            { weight: 10, pauseSeconds: 3 },
            { weight: 50, pauseSeconds: 3 },
          ],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10 },
        },
      });
      await waitForMd('moved', 'canary at its first step', (m) => m.status?.canary?.weight === 10);
      // The routers' stats keys exist by now; new pods write new keys beside the old ones.
      const routers = `${LABEL.deployment}=moved,${LABEL.component}=router`;
      const before = (await core.listNamespacedPod({ namespace: ns, labelSelector: routers })).items;
      expect(before.length).toBeGreaterThan(0);
      await core.deleteCollectionNamespacedPod({ namespace: ns, labelSelector: routers });
      const md = await waitForMd(
        'moved',
        'candidate promoted',
        (m) => m.status?.stable?.model.uri.endsWith('digits-v2.onnx') && m,
        120_000,
      );
      await load.stop();
      expect(percentOf(md, md.status!.stable!.revision)).toBe(100);
      const after = (await core.listNamespacedPod({ namespace: ns, labelSelector: routers })).items;
      const names = (pods: typeof before) => pods.map((p) => p.metadata!.name);
      expect(names(after).filter((n) => names(before).includes(n))).toEqual([]);
    },
    TIMEOUT,
  );
});

describe('a canary nothing can judge is resolved by its progress deadline', () => {
  /** Seconds of inconclusive checks before onProgressDeadline decides. */
  const DEADLINE = 20;
  /**
   * digits-v2 without a single request (no load) while every check needs 1000: each check is
   * inconclusive, and the canary would otherwise hold its step for ever.
   */
  const unjudgeable = (policy: ProgressDeadlinePolicy): ModelDeploymentSpec => ({
    model: model('digits-v2'),
    replicas: 1,
    rollout: {
      steps: [{ weight: 20, pauseSeconds: 1 }],
      analysis: { intervalSeconds: INTERVAL, minRequests: 1000 },
      progressDeadlineSeconds: DEADLINE,
      onProgressDeadline: policy,
    },
  });

  /**
   * Rolls out the unjudgeable candidate on a new ModelDeployment `name` and waits until the deadline
   * has decided; returns the status then, and the stable's revision.
   */
  async function pastDeadline(name: string, policy: ProgressDeadlinePolicy) {
    await applyMd(name, stableSpec());
    const stable = await readyStable(name);
    await applyMd(name, unjudgeable(policy));
    const waiting = await waitForMd(
      name,
      'candidate waiting for traffic',
      (m) => m.status?.canary?.reason === 'InsufficientTraffic' && m,
    );
    expect(waiting.status?.canary?.message).toMatch(new RegExp(`onProgressDeadline ${policy} in \\d+s`));
    const since = Date.parse(waiting.status!.canary!.inconclusiveSince!);
    const md = await waitForMd(
      name,
      'the progress deadline decided',
      (m) => condition(m, 'Stalled')?.reason === 'RolloutDeadlineExceeded' && m,
      120_000,
    );
    measured(
      `${name}: ${policy} after ${(Date.now() - since) / 1000}s without a verdict: ${md.status?.canary?.message}`,
    );
    expect(Date.now() - since).toBeGreaterThanOrEqual(DEADLINE * 1000);
    expect(condition(md, 'Ready')?.status).toBe('True');
    expect(condition(md, 'Stalled')).toMatchObject({ status: 'True', reason: 'RolloutDeadlineExceeded' });
    expect(md.status?.canary?.message).toContain(`for ${DEADLINE}s (spec.rollout.progressDeadlineSeconds)`);
    return { md, stable, candidate: md.status!.canary!.revision };
  }

  it(
    'Pause: the candidate holds its weight, Stalled RolloutDeadlineExceeded; Argo CD Degraded, kstatus Failed',
    async () => {
      const { md, candidate } = await pastDeadline('hold', 'Pause');
      expect(md.status?.canary).toMatchObject({ phase: 'Paused', weight: 20, reason: 'RolloutDeadlineExceeded' });
      expect(percentOf(md, candidate)).toBe(20);
      await waitForHealth('hold, paused by its deadline', () => getMd('hold'), 'Degraded', 'Failed');
      const { table, row } = await kubectlGetMd('hold');
      measured(`kubectl get md hold:\n${table}`);
      expect(row).toMatchObject({
        READY: 'True',
        STABLE: md.status!.stable!.revision,
        CANARY: candidate,
        WEIGHT: '20',
        PHASE: 'Paused',
        REASON: 'RolloutDeadlineExceeded',
      });
      // One Warning for the one transition (the canary's Paused and Stalled told once).
      expect(await warnings('hold', 'RolloutDeadlineExceeded', candidate)).toEqual([
        expect.stringContaining(`onProgressDeadline Pause holds candidate ${candidate} at 20%`),
      ]);
    },
    TIMEOUT,
  );

  it(
    'Rollback: the stable takes 100% again, one Warning; Argo CD Degraded, kstatus Failed; kubectl says why',
    async () => {
      const { md, stable, candidate } = await pastDeadline('drop', 'Rollback');
      expect(md.status?.canary).toMatchObject({ phase: 'RolledBack', weight: 0, reason: 'RolloutDeadlineExceeded' });
      expect(percentOf(md, stable)).toBe(100);
      expect(md.status?.history?.at(-1)).toMatchObject({ outcome: 'RolledBack', reason: 'RolloutDeadlineExceeded' });
      await waitForHealth('drop, rolled back by its deadline', () => getMd('drop'), 'Degraded', 'Failed');
      // After a rollback no column names the rolled-back revision as the canary, and one says why.
      const { table, row } = await kubectlGetMd('drop');
      measured(`kubectl get md drop:\n${table}`);
      expect(row).toMatchObject({
        READY: 'True',
        STABLE: stable,
        CANARY: expect.stringMatching(/^(|<none>)$/),
        WEIGHT: expect.stringMatching(/^(|<none>)$/),
        PHASE: 'RolledBack',
        REASON: 'RolloutDeadlineExceeded',
      });
      expect(await warnings('drop', 'RolloutDeadlineExceeded', candidate)).toEqual([condition(md, 'Stalled')!.message]);
    },
    TIMEOUT,
  );
});

describe('canary rollouts with spec.auth', () => {
  // Regression: the router read the revisions' V2 metadata for the contract gate without a token,
  // the servers answered 401, and the canary waited at 0% (ContractUnknown) for ever.
  it(
    'passes the contract gate and promotes, clients with the token seeing only 200s',
    async () => {
      const token = randomBytes(24).toString('hex');
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'auth-token' }, stringData: { token: `${token}\n` } },
      });
      const auth = { tokenSecretRef: { name: 'auth-token' } };
      await applyMd('auth', { ...stableSpec(), auth });
      const previous = routeOf('auth', await readyStable('auth'));
      const url = await apexUrl('auth');
      const load = startLoad({ url, model: 'digits', concurrency: 2, headers: { authorization: `Bearer ${token}` } });
      await applyMd('auth', {
        model: model('digits-v2'),
        replicas: 1,
        auth,
        rollout: {
          steps: [{ weight: 50, pauseSeconds: 3 }],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10, maxErrorRate: 0.01, failureLimit: 2 },
        },
      });
      const md = await waitForMd('auth', 'candidate promoted', (m) => {
        return promotedFrom(m, previous) && m;
      });
      const current = routeOf('auth', md.status!.stable!.revision);
      await allNewRequestsOn(load, current);
      const outcomes = await load.stop();
      const s = summarize(outcomes);
      measured(
        `auth promotion: ${s.requests} requests, ${JSON.stringify(s.byRevision)}, statuses ${JSON.stringify(s.byStatus)}`,
      );
      expect({ failed: s.failed, wrong: s.wrong }).toEqual({ failed: 0, wrong: 0 });
      expect(s.byRevision[previous]).toBeGreaterThan(0);
      expect(s.byRevision[current]).toBeGreaterThan(0);
      expect(md.status?.history?.at(-1)).toMatchObject({ outcome: 'Promoted' });
      // The router lends its token to no one: a client without one is still refused.
      const anonymous = await fetch(`${url}/v2/models/digits/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(anonymous.status).toBe(401);
    },
    TIMEOUT,
  );
});
