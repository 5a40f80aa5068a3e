/**
 * Apply -> Ready on real pods for a ~100 MB model from each remote source (`make bench-sources-real`,
 * root on Linux): one real node (test/cluster), Modelship installed from its chart with the node
 * cache on, and the stores (MinIO, fake-gcs-server, the distribution registry with an artifact pushed
 * by oras) on the node's address. Per source, three starts of the same model:
 *
 * - cold: the first pod on the node (the node cache downloads it from the store);
 * - second pod: the ModelDeployment scaled from 1 to 2 replicas (the node has it);
 * - rollback target: a second ModelDeployment of the model, as a canary or a rollback target whose
 *   pods come back after they were gone (the node has it).
 *
 * Each start is split into its parts from the pod's own record: scheduling, image and container
 * start (the pod's conditions and container state), the model fetch (the server's "model fetched"
 * log line, with the node cache's hit or miss) and the rest up to Ready (session, warm-up, probes).
 * Writes bench/results/sources-real.{json,md}. Env: BENCH_OUT (bench/results), BENCH_MODEL_MB (100).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

import type { ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { binDir, clusterDown, repoRoot } from '../../test/cluster/cluster.js';
import { nodeNetwork } from '../../test/cluster/network.js';
import { createTestNamespace, loadKubeConfig, waitFor } from '../../test/e2e/kube.js';
import { Mds } from '../../test/e2e-pods/pods.js';
import { realNodeWithModelship } from '../../test/run/install.js';
import { startFakeGcs } from '../../test/stores/gcs.js';
import { orasPush } from '../../test/stores/oras.js';
import { startRegistry } from '../../test/stores/registry.js';
import { startS3 } from '../../test/stores/s3.js';

const root = repoRoot();
process.env.MODELSHIP_CLUSTER_DIR ??= join(root, '.state', 'cluster-sources-bench-real');
const OUT = resolve(process.env.BENCH_OUT ?? join(root, 'bench/results'));
const MODEL_MB = Number(process.env.BENCH_MODEL_MB ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STATE = join(root, '.state', 'bench', 'sources-real');
const log = (m: string): void => console.log(`${new Date().toISOString()} bench sources-real: ${m}`);

/** One start of a model pod and its parts, in seconds. */
interface Start {
  source: string;
  /** Which round (each with its own model). */
  round?: number;
  kind: 'cold' | 'second pod' | 'rollback target';
  /** From the apply (or the scale) to the ModelDeployment's Ready with the pod counted. */
  applyToReady: number;
  scheduled?: number;
  containerStarted?: number;
  fetchSeconds?: number;
  cache?: string;
}

const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
};

/** Seconds from `from` (ms) to an RFC 3339 time, or undefined. */
function secondsSince(from: number, time: Date | string | undefined): number | undefined {
  if (time === undefined) return undefined;
  return Math.max(0, (new Date(time).getTime() - from) / 1000);
}

/** The newest server pod of a ModelDeployment created at or after `since`. */
async function newestPod(core: CoreV1Api, ns: string, md: string, since: number): Promise<V1Pod | undefined> {
  const pods = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `app.kubernetes.io/name=modelship-server,modelship.dev/deployment=${md}`,
  });
  return pods.items
    .filter((p) => new Date(p.metadata?.creationTimestamp ?? 0).getTime() >= since - 1000)
    .sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))[0];
}

/** kubectl from the cluster binaries. */
function kubectl(kubeconfig: string, args: string[]): string {
  return execFileSync(join(binDir(), 'kubectl'), args, {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    encoding: 'utf8',
  });
}

/**
 * From a pod's log: the server's "model fetched" seconds, and the node cache's answer (hit or miss)
 * from "fetching the model through the node cache".
 */
function fetchOf(kubeconfig: string, ns: string, pod: string): { seconds?: number; cache?: string } {
  const found: { seconds?: number; cache?: string } = {};
  for (const line of kubectl(kubeconfig, ['logs', '-n', ns, pod]).split('\n')) {
    if (!line.startsWith('{')) continue;
    const fields = JSON.parse(line) as { msg?: string; seconds?: number; cache?: string; error?: string };
    if (fields.msg === 'model fetched') found.seconds = fields.seconds;
    if (fields.msg === 'fetching the model through the node cache') found.cache = `node cache ${fields.cache}`;
    // The pod fetched for itself: say why, with the agent's answer.
    if (fields.msg?.startsWith('node cache agent')) found.cache = `direct (${fields.msg}: ${fields.error ?? '?'})`;
  }
  return found;
}

/** Times one start: `act` applies or scales, then waits until `ready` says the pod is counted. */
async function timeStart(
  kc: KubeConfig,
  kubeconfig: string,
  ns: string,
  md: string,
  source: string,
  kind: Start['kind'],
  act: () => Promise<void>,
  ready: () => Promise<boolean>,
): Promise<Start> {
  const core = kc.makeApiClient(CoreV1Api);
  const started = Date.now();
  await act();
  await waitFor(`${md}: ${kind} Ready`, async () => (await ready()) || undefined, 300_000, 100);
  const applyToReady = (Date.now() - started) / 1000;
  const pod = await newestPod(core, ns, md, started);
  const scheduled = secondsSince(
    started,
    pod?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.lastTransitionTime,
  );
  const containerStarted = secondsSince(started, pod?.status?.containerStatuses?.[0]?.state?.running?.startedAt);
  const fetched = pod?.metadata?.name ? fetchOf(kubeconfig, ns, pod.metadata.name) : {};
  const start: Start = {
    source,
    kind,
    applyToReady,
    scheduled,
    containerStarted,
    fetchSeconds: fetched.seconds,
    cache: fetched.cache,
  };
  log(JSON.stringify(start));
  return start;
}

async function main(): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  // One model per round (seed 14 + round): each round's first pod is cold on the node however many ran before.
  const roundModels = Array.from({ length: ROUNDS }, (_, round) => {
    const file = join(STATE, `large-${MODEL_MB}mb-${round}.onnx`);
    const seed = String(14 + round);
    execFileSync(join(root, '.state/venv/bin/python'), [
      join(root, 'bench/sources/large_model.py'),
      file,
      String(MODEL_MB),
      seed,
    ]);
    return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  });
  const loadStart = loadavg();
  const stops: (() => Promise<void>)[] = [];
  const starts: Start[] = [];
  try {
    stops.push(() => clusterDown());
    const info = await realNodeWithModelship(log);
    const kc = loadKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createTestNamespace(kc, 'sources-bench');
    const mds = new Mds(kc, ns);

    const host = nodeNetwork.nodeIp;
    const [s3, gcs, reg] = await Promise.all([startS3({ host }), startFakeGcs({ host }), startRegistry({ host })]);
    stops.push(
      () => s3.stop(),
      () => gcs.stop(),
      () => reg.stop(),
    );
    await s3.createBucket('models');
    await gcs.createBucket('models');
    const pushed: string[] = [];
    for (const [round, { file }] of roundModels.entries()) {
      await s3.upload('models', `large-${round}.onnx`, file);
      await gcs.upload('models', `large-${round}.onnx`, file);
      const tag = `v${round}`;
      pushed.push((await orasPush({ address: reg.address, repository: 'models/large', tag, file })).reference);
    }
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 's3-creds' },
        stringData: {
          AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.rootCredentials.secretAccessKey,
        },
      },
    });
    /** Round `round`'s model in each store. */
    const modelsOf = (round: number): Record<string, ModelDeploymentSpec['model']> => {
      const { sha256 } = roundModels[round];
      const key = `models/large-${round}.onnx`;
      return {
        s3: {
          uri: `s3://${key}`,
          sha256,
          name: 'large',
          storage: { endpoint: s3.endpoint, region: s3.region, pathStyle: true, secretRef: { name: 's3-creds' } },
        },
        gs: { uri: `gs://${key}`, sha256, name: 'large', storage: { endpoint: gcs.endpoint } },
        oci: { uri: `oci://${pushed[round]}`, sha256, name: 'large', storage: { plainHTTP: true } },
      };
    };
    const readyWith = (md: string, n: number) => async () => {
      const m = await mds.get(md);
      return (
        m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
        (m.status?.stable?.readyReplicas ?? 0) >= n
      );
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [source, model] of Object.entries(modelsOf(round))) {
        const first = `${source}-first-${round}`;
        const again = `${source}-again-${round}`;
        // The first pod on the node, a second pod of it, then another ModelDeployment of the same model.
        const plan = [
          [first, 'cold', 1],
          [first, 'second pod', 2],
          [again, 'rollback target', 1],
        ] as const;
        for (const [md, kind, replicas] of plan) {
          const apply = (): Promise<void> => mds.apply(md, { model, replicas, server });
          const start = await timeStart(kc, info.kubeconfig, ns, md, source, kind, apply, readyWith(md, replicas));
          starts.push({ ...start, round });
        }
        // Free the node for the next source: each pod holds the 100 MB model in memory.
        kubectl(info.kubeconfig, [
          'delete',
          'modeldeployments',
          first,
          again,
          '-n',
          ns,
          '--wait=true',
          '--timeout=120s',
        ]);
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`stop: ${String(err)}`));
  }
  const loadEnd = loadavg();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const report = {
    when: new Date().toISOString(),
    commit,
    modelMb: MODEL_MB,
    rounds: ROUNDS,
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    loadStart,
    loadEnd,
    starts,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'sources-real.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(OUT, 'sources-real.md'), markdown(report));
  log(`wrote ${join(OUT, 'sources-real.md')}`);
}

const f = (n: number | undefined): string => (n === undefined ? '–' : n.toFixed(2));

/** The median of the defined values, or undefined when there are none. */
function median(values: (number | undefined)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined).sort((x, y) => x - y);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const KINDS: Start['kind'][] = ['cold', 'second pod', 'rollback target'];

function markdown(r: {
  when: string;
  commit: string;
  modelMb: number;
  rounds: number;
  cpus: number;
  memGiB: number;
  loadStart: number[];
  loadEnd: number[];
  starts: Start[];
}): string {
  const sources = [...new Set(r.starts.map((s) => s.source))];
  const rows = sources.flatMap((source) => {
    const of = (kind: Start['kind']): Start[] => r.starts.filter((s) => s.source === source && s.kind === kind);
    const coldMedian = median(of('cold').map((s) => s.applyToReady));
    return KINDS.map((kind) => {
      const starts = of(kind);
      const ready = median(starts.map((s) => s.applyToReady));
      const ratio = ready === undefined || coldMedian === undefined ? '–' : (ready / coldMedian).toFixed(2);
      const each = starts.map((s) => f(s.applyToReady)).join(', ');
      const via = [...new Set(starts.map((s) => s.cache ?? '–'))].join(', ');
      return (
        `| ${source} | ${kind} | ${f(ready)} | ${ratio} | ${f(median(starts.map((s) => s.containerStarted)))} | ` +
        `${f(median(starts.map((s) => s.fetchSeconds)))} | ${via} | ${each} |`
      );
    });
  });
  return [
    `# Model sources on real pods: apply -> Ready, cold and warm (${r.when}, commit ${r.commit})`,
    '',
    `Machine: ${r.cpus} cores, ${r.memGiB} GiB; load average (1/5/15 min) at start ${r.loadStart.map((l) => l.toFixed(2)).join(' / ')}, ` +
      `at end ${r.loadEnd.map((l) => l.toFixed(2)).join(' / ')}.`,
    '',
    `One real node (containerd, kubelet, kube-proxy, CoreDNS; test/cluster), Modelship from its chart with the node cache on;`,
    `a ${r.modelMb} MB ONNX model (bench/sources/large_model.py, another seed each round so every round's first pod is cold)`,
    "in MinIO (s3://), fake-gcs-server (gs://) and the distribution registry (oci://, pushed by oras), all on the node's",
    'address. **cold**: the first pod on the node (the node cache downloads it); **second pod**: the same ModelDeployment',
    'scaled 1 -> 2; **rollback target**: a second ModelDeployment of the same model, as a canary or a rollback target whose',
    'pods come back. Seconds from the apply (or scale) to Ready with that pod counted; medians of',
    `${r.rounds} rounds. **Container started** is from the pod's status (whole seconds: the API's timestamps); **fetch** is the`,
    'server\'s own "model fetched" time (through the node cache: on a hit, a metadata request to the store with the pod\'s',
    "credentials, then the copy from the node's disk, re-hashed by the pod). The rest up to Ready is the onnxruntime session,",
    'the warm-up and the readiness probe, whose 5 s period rounds every start up to its next probe.',
    '',
    '| source | start | apply -> Ready s (median) | / cold | container started at s | fetch s | fetched via | apply -> Ready, each round |',
    '|---|---|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    'Reproduce: `make bench-sources-real` (root on Linux; BENCH_ROUNDS, default 3). Loopback fetch throughput against the',
    "stores' own clients, and cold against warm starts without the kubelet: [sources.md](sources.md).",
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
