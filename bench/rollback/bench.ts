/**
 * Rollback benchmark (`make bench-rollback`, and on real pods `make bench-rollback-real`): the whole
 * path a user triggers, from the rollback action on a ModelDeployment to 100% of new requests on the
 * stable revision. One isolated cluster with the operator running, on one of two platforms
 * (BENCH_NODE): `kwok` (kwok.ts: the operator as a process, model servers and both router pods as
 * local processes) or `real` (realnode.ts: one real node, the Helm chart's operator pods, the
 * kubelet's pods, load through the apex Service's ClusterIP). Steady load through the apex Service;
 * digits (stable) and digits-v2 held at a fixed 50% (`spec.rollout.weight`).
 *
 * Trials: `abort@<nonce>` (then `retry@<nonce>` re-arms the candidate at 50%), and after
 * promotion `rollback@<nonce>` onto the warm retained revision (then retry + promote again).
 * Each trial: the annotation time, the routes ConfigMap update seen on a watch, each router's
 * "routes applied" log line, and the first moment after which every request sent was answered by
 * the target revision. Writes bench/results/rollback.{json,md} (kwok) or rollback-real.{json,md}
 * (real; its markdown puts the last kwok run's rollback.json side by side).
 *
 * Env: BENCH_NODE (kwok | real), BENCH_ROLLBACK_TRIALS (60), BENCH_ROLLBACK_PROMOTED_TRIALS (10),
 * BENCH_ROLLBACK_LOOPS (4), BENCH_OUT (bench/results), MODELSHIP_CLUSTER_DIR.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { KubeClient } from '../../operator/src/kube/client.js';
import { ACTION_ANNOTATION } from '../../operator/src/rollout/canary-action.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { repoRoot } from '../../test/cluster/cluster.js';
import { applyYaml, waitFor } from '../../test/e2e/kube.js';
import { digitSamples } from '../../test/e2e/load.js';
import { KwokPlatform } from './kwok.js';
import { RecordingLoad } from './load.js';
import type { BenchNode, Platform } from './platform.js';
import { RealNodePlatform } from './realnode.js';
import { summarizeTrials } from './report.js';
import type { RollbackReport, Trial, TrialKind } from './trials.js';
import { writeReport } from './results.js';
import { appliedAt, routesAppliedIn } from './routerlog.js';
import { everyLoopSaw, everyLoopSettled, noFailureSince, settle, stragglersAfter } from './settle.js';

const root = repoRoot();
const NODE = (process.env.BENCH_NODE ?? 'kwok') as BenchNode;
if (NODE !== 'kwok' && NODE !== 'real') throw new Error(`bench rollback: BENCH_NODE=${String(NODE)}: use kwok or real`);
// One state dir per platform: the real node's cluster never reuses the kwok cluster's dir.
process.env.MODELSHIP_CLUSTER_DIR ??= join(
  root,
  '.state',
  NODE === 'real' ? 'cluster-rollback-bench-real' : 'cluster-rollback-bench',
);
const TRIALS = Number(process.env.BENCH_ROLLBACK_TRIALS ?? 60);
const PROMOTED_TRIALS = Number(process.env.BENCH_ROLLBACK_PROMOTED_TRIALS ?? 10);
const LOOPS = Number(process.env.BENCH_ROLLBACK_LOOPS ?? 4);
/** A trial's window closes once every loop has been on the target this long in a row. */
const TAIL_MS = 2_000;
/** Longer than any rollback should take: a trial that has not settled by then is reported unsettled. */
const SETTLE_TIMEOUT_MS = 30_000;
/** Re-arming restarts the candidate's pod (it is scaled to 0 on rollback): generous. */
const REARM_TIMEOUT_MS = 180_000;
/** One analysis interval for the object's whole life (changing it replaces the router pods). */
const INTERVAL_SECONDS = 1;
const MD = 'digits';
const STATE = join(root, '.state', 'bench', NODE === 'real' ? 'rollback-real' : 'rollback');

/** Progress on stderr with a timestamp. */
function say(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

function modelBlock(file: 'digits' | 'digits-v2'): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(root, 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

const analysis = { intervalSeconds: INTERVAL_SECONDS, minRequests: 10 };
/**
 * Small CPU requests: the real node has 2 allocatable CPUs and the scheduler counts requests (the
 * chart's two operator pods and two router pods take 400m); the local pod runner ignores them.
 */
const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
};
const stableSpec: ModelDeploymentSpec = {
  model: modelBlock('digits'),
  replicas: 1,
  server,
  rollout: { analysis, retainPreviousSeconds: 3600 },
};
const candidateSpec: ModelDeploymentSpec = {
  model: modelBlock('digits-v2'),
  replicas: 1,
  server,
  rollout: { weight: 50, analysis, retainPreviousSeconds: 3600 },
};

/** The route name (`<md>-<rev>`, what x-modelship-revision says) of a status revision. */
function routeOf(revision: string): string {
  return revision.startsWith(`${MD}-`) ? revision : `${MD}-${revision}`;
}

function percentOf(md: ModelDeployment, route: string): number | undefined {
  return md.status?.traffic?.find((t) => routeOf(t.revision) === route)?.percent;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/** A routes ConfigMap update as the bench's watch received it. */
interface RoutesEvent {
  at: number;
  generation: number;
  weights: Record<string, number>;
}

/** Everything the run started, so one function can stop it whatever happened. */
interface Started {
  platform?: Platform;
  watch?: AbortController;
  load?: RecordingLoad;
  annotator?: ChildProcess;
}

const started: Started = {};

async function cleanup(): Promise<void> {
  started.watch?.abort();
  started.annotator?.kill();
  if (started.load) await started.load.stop().catch(() => undefined);
  await started.platform?.stop();
  started.platform = undefined;
}

/** Watches `<md>-routes` and records every version of its routes document with the time it arrived. */
async function watchRoutes(kc: KubeConfig, ns: string, events: RoutesEvent[]): Promise<AbortController> {
  let controller: AbortController | undefined;
  let stopped = false;
  const start = async (): Promise<void> => {
    controller = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { fieldSelector: `metadata.name=${MD}-routes` },
      (type: string, obj: { data?: Record<string, string> }) => {
        const at = Date.now();
        const text = obj.data?.['routes.json'];
        if (type === 'DELETED' || text === undefined) return;
        let routes: { generation: number; revisions: { name: string; weight: number }[] };
        try {
          routes = JSON.parse(text) as typeof routes;
        } catch {
          return;
        }
        events.push({
          at,
          generation: routes.generation,
          weights: Object.fromEntries(routes.revisions.map((r) => [r.name, r.weight])),
        });
      },
      () => {
        if (!stopped) void start();
      },
    );
  };
  await start();
  const outer = new AbortController();
  outer.signal.addEventListener('abort', () => {
    stopped = true;
    controller?.abort();
  });
  return outer;
}

async function main(): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  const loadAverageStart = loadavg();
  const runStartedAt = Date.now();
  say(`${NODE}: cluster in ${process.env.MODELSHIP_CLUSTER_DIR}`);
  const platform = (started.platform =
    NODE === 'real' ? new RealNodePlatform(STATE, say) : new KwokPlatform(STATE, say));
  await platform.start();
  const { kc, namespace: ns } = platform;
  const api = await KubeClient.create(kc, new Registry());

  const mdPath = `/apis/modelship.dev/v1alpha1/namespaces/${ns}/modeldeployments/${MD}`;
  const getMd = (): Promise<ModelDeployment> => api.request<ModelDeployment>({ method: 'GET', path: mdPath });
  const applyMd = (spec: ModelDeploymentSpec): Promise<unknown> =>
    applyYaml(
      kc,
      JSON.stringify({ apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: MD }, spec }),
      ns,
    );
  let nonce = 0;
  const annotator = (started.annotator = spawn(
    process.execPath,
    [join(root, 'dist/bench/rollback/annotator.js'), platform.kubeconfig],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  ));
  const answers = createInterface({ input: annotator.stdout! })[Symbol.asyncIterator]();
  if ((await answers.next()).value !== 'ready') throw new Error('start the annotator process: it did not say ready');
  /**
   * Writes the action annotation as `kubectl annotate` or `npx modelship <verb>` does, a merge patch
   * of that one key, from its own process; returns when the API server answered.
   */
  const annotate = async (verb: 'abort' | 'retry' | 'promote' | 'rollback'): Promise<number> => {
    annotator.stdin!.write(
      `${JSON.stringify({ path: mdPath, annotation: ACTION_ANNOTATION, value: `${verb}@bench-${++nonce}-${Date.now()}` })}\n`,
    );
    const next = await answers.next();
    const answer = JSON.parse(String(next.value)) as { patchedAt?: number; error?: string };
    if (answer.patchedAt === undefined) throw new Error(answer.error ?? 'annotator: no answer');
    return answer.patchedAt;
  };
  const waitMd = async <T>(
    what: string,
    check: (md: ModelDeployment) => T | undefined | false,
    timeoutMs: number,
  ): Promise<T> => {
    let last: ModelDeployment | undefined;
    try {
      return await waitFor(
        `ModelDeployment ${ns}/${MD}: ${what}`,
        async () => check((last = await getMd())) || undefined,
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.status)}`, { cause: err });
    }
  };

  say('stable digits: waiting for Ready');
  await applyMd(stableSpec);
  const stable = routeOf(
    await waitMd(
      'Ready with a stable revision',
      (md) =>
        md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && md.status?.stable?.revision,
      300_000,
    ),
  );
  const url = await platform.apexUrl(MD);
  say(`apex Service at ${url}`);
  const routesEvents: RoutesEvent[] = [];
  started.watch = await watchRoutes(kc, ns, routesEvents);
  const load = (started.load = new RecordingLoad(url, 'digits', LOOPS, digitSamples()));

  say('candidate digits-v2 at a fixed 50%');
  await applyMd(candidateSpec);
  const candidate = routeOf(
    await waitMd(
      'candidate held at 50%',
      (md) =>
        md.status?.canary && percentOf(md, routeOf(md.status.canary.revision)) === 50 && md.status.canary.revision,
      REARM_TIMEOUT_MS,
    ),
  );
  const armedAt = Date.now();
  await waitFor(
    'every loop answered by the candidate',
    () => everyLoopSaw(load.records, LOOPS, armedAt, candidate),
    60_000,
    100,
  );

  /** One rollback: the action, then the window until every loop has sat on target for TAIL_MS. */
  const trial = async (
    kind: TrialKind,
    index: number,
    verb: 'abort' | 'rollback',
    target: string,
    from: string,
  ): Promise<Trial> => {
    const firstIndex = load.records.length;
    const loadAverage = loadavg()[0]!;
    const actionAt = Date.now();
    const patchedAt = await annotate(verb);
    const recent = (): typeof load.records => load.records.slice(firstIndex);
    let windowEnd: number;
    let timedOut = false;
    try {
      await waitFor(
        `every new request on ${target}`,
        () =>
          routesEvents.some((e) => e.at >= actionAt && e.weights[target] === 100) &&
          everyLoopSettled(recent(), LOOPS, actionAt, target, TAIL_MS),
        SETTLE_TIMEOUT_MS,
        50,
      );
      windowEnd = Date.now();
    } catch {
      timedOut = true;
      windowEnd = Date.now();
    }
    await waitFor('requests in flight answered', () => load.finishedUpTo(windowEnd), 30_000, 20);
    const records = recent();
    const settled = timedOut ? undefined : settle(records, actionAt, windowEnd, target);
    const routes = routesEvents.find((e) => e.at >= actionAt && e.weights[target] === 100);
    const routersAppliedAt =
      routes === undefined
        ? []
        : (await platform.routerLogs(MD, actionAt)).flatMap((text) => {
            const at = appliedAt(routesAppliedIn(text), routes.generation, actionAt);
            return at === undefined ? [] : [at];
          });
    const t: Trial = {
      kind,
      index,
      from,
      target,
      actionAt,
      patchedAt,
      windowEnd,
      routersAppliedAt,
      loadAverage,
      requests: records.filter((r) => r.sentAt >= actionAt && r.sentAt <= windowEnd).length,
      failed: records.filter((r) => r.sentAt >= actionAt && r.sentAt <= windowEnd && r.status !== 200).length,
    };
    if (routes) {
      t.routesSeenAt = routes.at;
      t.stragglers = stragglersAfter(records, routes.at, windowEnd, target);
    }
    if (settled) t.settled = settled;
    say(
      `${kind} #${index}: ${settled ? `${settled.latencyMs} ms` : 'NOT settled'} (routes seen +${routes ? routes.at - actionAt : '?'} ms, ${t.failed} failed of ${t.requests}, load ${loadAverage.toFixed(2)})`,
    );
    return t;
  };

  /**
   * retry@: the rolled-back candidate restarts and is held at 50% again, on every loop. Where the
   * platform marks a pod Ready before it can answer (kwok), the load pauses until the candidate's
   * process is ready (Platform.pauseLoadWhileRearming says why). The next trial waits for every loop
   * to be answered by it and a clean second.
   */
  const rearm = async (): Promise<number> => {
    const t0 = Date.now();
    if (platform.pauseLoadWhileRearming) load.pause();
    try {
      await annotate('retry');
      await waitMd(
        'candidate back at 50%',
        (md) => md.status?.canary?.phase !== 'RolledBack' && percentOf(md, candidate) === 50,
        REARM_TIMEOUT_MS,
      );
      await waitFor(`a ready pod of ${candidate}`, () => platform.revisionReady(candidate), REARM_TIMEOUT_MS, 100);
    } finally {
      load.resume();
    }
    const since = Date.now();
    await waitFor(
      'every loop answered by the candidate again, no failure for 1 s',
      () =>
        everyLoopSaw(load.records, LOOPS, since, candidate) &&
        Date.now() - since >= 1000 &&
        noFailureSince(load.records, Date.now() - 1000),
      60_000,
      100,
    );
    return Date.now() - t0;
  };

  const trials: Trial[] = [];
  const rearmMs: number[] = [];
  const promoteMs: number[] = [];
  // A run that breaks part way (the operator stuck, a re-arm timing out) still reports the trials
  // it measured, and says where and why it stopped.
  let stoppedEarly: string | undefined;
  try {
    for (let i = 1; i <= TRIALS; i++) {
      trials.push(await trial('abort', i, 'abort', stable, candidate));
      rearmMs.push(await rearm());
    }
    for (let i = 1; i <= PROMOTED_TRIALS; i++) {
      const t0 = Date.now();
      await annotate('promote');
      await waitMd(
        'candidate promoted, the old stable retained',
        (md) =>
          md.status?.stable?.revision &&
          routeOf(md.status.stable.revision) === candidate &&
          percentOf(md, candidate) === 100 &&
          md.status.retained?.some((r) => routeOf(r.revision) === stable),
        REARM_TIMEOUT_MS,
      );
      const promotedAt = Date.now();
      await waitFor(
        'every loop on the promoted revision',
        () => everyLoopSettled(load.records, LOOPS, promotedAt, candidate, 1000),
        60_000,
        100,
      );
      promoteMs.push(Date.now() - t0);
      trials.push(await trial('rollback-after-promotion', i, 'rollback', stable, candidate));
      rearmMs.push(await rearm());
    }
  } catch (err) {
    stoppedEarly = `after ${trials.length} trials: ${(err as Error).message}`;
    say(`stopped early ${stoppedEarly}`);
  }

  const all = await load.stop();
  started.load = undefined;
  const inTrials = (sentAt: number): boolean => trials.some((t) => sentAt >= t.actionAt && sentAt <= t.windowEnd);
  const report: RollbackReport = {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    setup: {
      node: NODE,
      loops: LOOPS,
      intervalSeconds: INTERVAL_SECONDS,
      candidateWeight: 50,
      stable,
      candidate,
      routerPods: (await platform.routerLogs(MD, runStartedAt)).length,
      tailMs: TAIL_MS,
      loadPausedWhileRearming: platform.pauseLoadWhileRearming,
    },
    loadAverage: { start: loadAverageStart, end: loadavg() },
    requests: {
      total: all.length,
      failed: all.filter((r) => r.status !== 200).length,
      failedOutsideTrials: all.filter((r) => r.status !== 200 && !inTrials(r.sentAt)).length,
      failedOutsideTrialsBy: countBy(
        all.filter((r) => r.status !== 200 && !inTrials(r.sentAt)),
        (r) => `${r.status} ${r.revision ?? '(no revision)'}`,
      ),
    },
    rearmMs,
    promoteMs,
    trials,
    summary: summarizeTrials(trials),
  };
  if (stoppedEarly !== undefined) report.stoppedEarly = stoppedEarly;
  const dir = resolve(root, process.env.BENCH_OUT ?? 'bench/results');
  const written = writeReport(dir, report);
  writeFileSync(join(STATE, 'requests.json'), JSON.stringify(all));
  say(`wrote ${written}; logs in ${STATE}`);
  if (stoppedEarly !== undefined) throw new Error(`stopped early ${stoppedEarly}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping what the bench started`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main()
  .then(cleanup)
  .catch(async (err: Error) => {
    say(`bench rollback: ${err.message}`);
    await cleanup();
    if (existsSync(STATE)) say(`logs in ${STATE}`);
    process.exit(1);
  });
