/**
 * Cold start from zero on real pods (`make bench-coldstart`, root on Linux): one real node
 * (test/cluster), Modelship installed from its chart, examples/digits.yaml's model and server, the
 * image already on the node. Each round takes a revision from zero pods to its first correct answer
 * through the apex Service (the router), and splits that time into its parts from each part's own
 * record (marks.ts, observe.ts). Scenarios (BENCH_SCENARIOS, comma-separated, default all):
 *
 * - `request`: scale to zero (minReplicas 0, idleSeconds 10); once the route holds and no pod is
 *   left, BENCH_BURST (4) requests at once: the routers hold them, the operator activates the
 *   revision, the hold drops once a pod is ready. No client retries: a held request is answered.
 * - `spec`: the ModelDeployment's `replicas` set 0 → 1 (the operator scales the Deployment). The
 *   client retries every 50 ms (no hold: the router answers 502 once its connect retries run out).
 * - `one`: as `spec`, with `server.processes: 1`.
 * - `hand`: the revision's Deployment scaled 0 → 1 by hand with the operator stopped: the pod's own
 *   start, nothing of Modelship's control plane in the way. Runs last.
 *
 * Writes bench/results/coldstart.{json,md}. Env: BENCH_OUT (bench/results), BENCH_ROUNDS (5).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';

import type { ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { binDir, clusterDown, repoRoot } from '../../test/cluster/cluster.js';
import { createTestNamespace, loadKubeConfig, waitFor } from '../../test/e2e/kube.js';
import { digitSamples } from '../../test/e2e/load.js';
import { Mds, exampleDigits } from '../../test/e2e-pods/pods.js';
import { sendSample, type RampOutcome } from '../../test/e2e-pods/ramp.js';
import { RELEASE, realNodeWithModelship } from '../../test/run/install.js';
import type { Marks } from './marks.js';
import { holdsIn } from './marks.js';
import { NamespaceWatch, firstConnect, nodeMarks, routerDirectMark, serverLogMarks } from './observe.js';
import { markdown, summarize, type ColdStartReport, type Round, type Scenario } from './report.js';

const root = repoRoot();
process.env.MODELSHIP_CLUSTER_DIR ??= join(root, '.state', 'cluster-coldstart-bench');
const OUT = resolve(process.env.BENCH_OUT ?? join(root, 'bench/results'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'request,spec,one,hand').split(',') as Scenario[];
/** Requests sent at once to a revision at zero in the `request` scenario. */
const BURST = Number(process.env.BENCH_BURST ?? 4);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const log = (m: string): void => console.log(`${new Date().toISOString()} bench coldstart: ${m}`);

/** kubectl from the cluster binaries. */
function kubectlSync(kubeconfig: string, args: string[]): string {
  return execFileSync(join(binDir(), 'kubectl'), args, {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    encoding: 'utf8',
  });
}

/** examples/digits.yaml's spec at `replicas`; `processes` overrides the server's (default: one per CPU). */
function spec(replicas: number, processes?: number): ModelDeploymentSpec {
  const example = exampleDigits().spec;
  return {
    ...example,
    replicas,
    ...(processes === undefined ? {} : { server: { ...example.server, processes } }),
  };
}

/** The `request` scenario's idle time before a revision goes to zero. */
const IDLE_SECONDS = 10;

/** examples/digits.yaml scaled on requests, to zero after IDLE_SECONDS without one. */
function zeroSpec(): ModelDeploymentSpec {
  const { replicas: _fixed, ...example } = exampleDigits().spec;
  return {
    ...example,
    autoscaling: {
      minReplicas: 0,
      maxReplicas: 1,
      targetConcurrency: 4,
      idleSeconds: IDLE_SECONDS,
      scaleDownWindowSeconds: IDLE_SECONDS,
    },
  };
}

/**
 * Sends the digit samples to the apex Service until one is answered correctly (50 ms between
 * tries); returns every try.
 */
async function untilAnswered(url: string, signal: AbortSignal): Promise<RampOutcome[]> {
  const samples = digitSamples();
  const tries: RampOutcome[] = [];
  for (let i = 0; !signal.aborted; i++) {
    const o = await sendSample(url, 'digits', samples[i % samples.length]!, { timeoutMs: 120_000 });
    tries.push(o);
    if (o.status === 200 && o.correct) return tries;
    await new Promise((r) => setTimeout(r, 50));
  }
  return tries;
}

/**
 * Sends BURST requests at once to the apex Service, as users arriving together at a revision at
 * zero: the routers hold them. Returns each one's outcome.
 */
function burst(url: string): Promise<RampOutcome[]> {
  const samples = digitSamples();
  return Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      sendSample(url, 'digits', samples[i % samples.length]!, { timeoutMs: 120_000, client: i }),
    ),
  );
}

/**
 * Waits until the ModelDeployment's revision has no pod at all (not even a terminating one); two
 * ModelDeployments of the same model and server have the same revision name.
 */
async function noPods(core: CoreV1Api, ns: string, md: string, revision: string): Promise<void> {
  const labelSelector = `modelship.dev/deployment=${md},modelship.dev/revision=${revision}`;
  await waitFor(
    `${md} revision ${revision}: no pods`,
    async () => (await core.listNamespacedPod({ namespace: ns, labelSelector })).items.length === 0 || undefined,
    180_000,
    200,
  );
}

/** Scales the operator's Deployment to 0 and waits until its pods are gone. */
async function stopOperator(apps: AppsV1Api, core: CoreV1Api): Promise<void> {
  const { namespace, name } = RELEASE;
  await apps.patchNamespacedDeploymentScale({ namespace, name, body: { spec: { replicas: 0 } } }, mergePatch);
  const selector = Object.entries(
    (await apps.readNamespacedDeployment({ namespace, name })).spec!.selector.matchLabels!,
  )
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  await waitFor(
    'the operator stopped',
    async () => (await core.listNamespacedPod({ namespace, labelSelector: selector })).items.length === 0 || undefined,
    120_000,
    200,
  );
}

/** Waits until the revision is at zero: its route holds, its Deployment asks for 0 and no pod is left. */
async function atZero(apps: AppsV1Api, core: CoreV1Api, ns: string, { md, revision }: Target): Promise<void> {
  await waitFor(
    `${md}-${revision}: scaled to zero`,
    async () => {
      const routes = await core.readNamespacedConfigMap({ namespace: ns, name: `${md}-routes` });
      const deployment = await apps.readNamespacedDeployment({ namespace: ns, name: `${md}-${revision}` });
      return (holdsIn(routes.data, `${md}-${revision}`) && deployment.spec?.replicas === 0) || undefined;
    },
    300_000,
    500,
  );
  await noPods(core, ns, md, revision);
}

interface Env {
  kc: KubeConfig;
  kubeconfig: string;
  logsDir: string;
  containerdSocket: string;
  ns: string;
  mds: Mds;
  watch: NamespaceWatch;
}

/** The ModelDeployment a round starts from zero: its name, the revision, the apex Service's URL. */
interface Target {
  md: string;
  revision: string;
  apex: string;
}

/** One start from zero: `trigger` starts it; the first correct answer through the apex Service ends it. */
async function round(
  env: Env,
  scenario: Scenario,
  index: number,
  { md, revision, apex }: Target,
  trigger: () => Promise<void>,
  client: (apex: string, signal: AbortSignal) => Promise<RampOutcome[]> = untilAnswered,
): Promise<Round> {
  const core = env.kc.makeApiClient(CoreV1Api);
  const svc = await core.readNamespacedService({ namespace: env.ns, name: `${md}-${revision}` });
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 180_000);
  const startedAt = Date.now();
  const connected = firstConnect(svc.spec!.clusterIP!, svc.spec!.ports![0]!.port, stop.signal);
  const heldBefore = env.watch.heldTotal(md, `${md}-${revision}`, startedAt);
  await trigger();
  const tries = await client(apex, stop.signal);
  clearTimeout(timer);
  stop.abort();
  const correct = tries.filter((t) => t.status === 200 && t.correct).sort((a, b) => a.doneAt - b.doneAt);
  // The routers publish their stats every second: the last held request is in the next document.
  await new Promise((r) => setTimeout(r, 2500));
  const { marks: watched, pod } = env.watch.marks(md, revision, startedAt);
  const marks: Marks = { trigger: startedAt, ...watched, serviceRoutes: await connected };
  if (correct[0]) marks.answered = correct[0].doneAt;
  marks.direct = routerDirectMark(
    (args) => kubectlSync(env.kubeconfig, args),
    env.ns,
    md,
    `${md}-${revision}`,
    startedAt,
  );
  const held = env.watch.heldTotal(md, `${md}-${revision}`, Date.now()) - heldBefore;
  if (pod) {
    const p = await core.readNamespacedPod({ namespace: env.ns, name: pod });
    const containerId = p.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
    const node = nodeMarks(env.logsDir, env.containerdSocket, { namespace: env.ns, name: pod, containerId });
    Object.assign(marks, {
      kubeletSaw: node.kubeletSaw,
      sandboxStarted: node.sandboxStarted,
      containerStarted: node.containerStarted,
      startupProbe: node.startupProbe,
      readinessProbe: node.readinessProbe,
      ...serverLogMarks((args) => kubectlSync(env.kubeconfig, args), env.ns, pod),
    });
  }
  const r: Round = {
    scenario,
    index,
    marks,
    tries: tries.length,
    failedTries: tries.filter((t) => t.status !== 200).length,
    answered: correct.length > 0,
    ...(scenario === 'request' ? { held } : {}),
    firstFailure: tries.find((t) => t.status !== 200) && {
      status: tries.find((t) => t.status !== 200)!.status,
      ms: tries.find((t) => t.status !== 200)!.doneAt - startedAt,
      error: tries.find((t) => t.status !== 200)!.error,
    },
  };
  const rel = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, v === undefined ? v : v - startedAt]));
  log(`${scenario} #${index}: ${JSON.stringify({ ...r, marks: rel })}`);
  return r;
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  const rounds: Round[] = [];
  try {
    const info = await realNodeWithModelship(log);
    const kc = loadKubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createTestNamespace(kc, 'coldstart');
    const mds = new Mds(kc, ns);
    const watch = await NamespaceWatch.start(kc, ns);
    const env: Env = {
      kc,
      kubeconfig: info.kubeconfig,
      logsDir: info.paths.logsDir,
      containerdSocket: info.realNode.containerdSocket,
      ns,
      mds,
      watch,
    };
    /** Applies `md` with one pod (its model verified, the image on the node before round 1). */
    const prepare = async (md: string, first: ModelDeploymentSpec): Promise<Target> => {
      await mds.apply(md, first);
      const revision = await mds.readyStable(md);
      const apex = await core.readNamespacedService({ namespace: ns, name: md });
      return { md, revision, apex: `http://${apex.spec!.clusterIP}:${apex.spec!.ports![0]!.port}` };
    };
    // `hand` stops the operator: it goes last.
    const order = [...SCENARIOS].sort((a, b) => Number(a === 'hand') - Number(b === 'hand'));
    for (const scenario of order) {
      const processes = scenario === 'one' ? 1 : undefined;
      const target = await prepare(
        { request: 'digits-zero', one: 'digits-one', spec: 'digits', hand: 'digits' }[scenario],
        scenario === 'request' ? zeroSpec() : spec(1, processes),
      );
      if (scenario === 'hand') await stopOperator(apps, core);
      // One answer through the whole path first.
      if (scenario === 'request') await untilAnswered(target.apex, AbortSignal.timeout(60_000));
      for (let i = 1; i <= ROUNDS; i++) {
        if (scenario === 'request') {
          // Idle: the route holds, then the Deployment goes to zero; the burst is the first traffic since.
          await atZero(apps, core, ns, target);
          await new Promise((r) => setTimeout(r, 2000));
          rounds.push(await round(env, scenario, i, target, async () => undefined, burst));
        } else if (scenario === 'hand') {
          // The operator would put the replicas back: it is stopped (its pods gone) for these rounds.
          const scale = (replicas: number): Promise<unknown> =>
            apps.patchNamespacedDeploymentScale(
              { namespace: ns, name: `${target.md}-${target.revision}`, body: { spec: { replicas } } },
              mergePatch,
            );
          await scale(0);
          await noPods(core, ns, target.md, target.revision);
          await new Promise((r) => setTimeout(r, 2000));
          rounds.push(await round(env, scenario, i, target, async () => void (await scale(1))));
        } else {
          await mds.apply(target.md, spec(0, processes));
          await noPods(core, ns, target.md, target.revision);
          await new Promise((r) => setTimeout(r, 2000));
          rounds.push(await round(env, scenario, i, target, () => mds.apply(target.md, spec(1, processes))));
        }
      }
      // Free the node's CPU for the next scenario (hand brings `digits` back to one pod first).
      if (scenario !== 'hand' && scenario !== 'request') await mds.apply(target.md, spec(0, processes));
    }
    watch.stop();
  } finally {
    await clusterDown().catch((err: unknown) => log(`cluster down: ${String(err)}`));
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const report: ColdStartReport = {
    when: new Date().toISOString(),
    commit,
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    loadStart,
    loadEnd: loadavg(),
    rounds,
    summary: summarize(rounds),
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'coldstart.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(OUT, 'coldstart.md'), markdown(report));
  log(`wrote ${join(OUT, 'coldstart.md')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
