/**
 * Operator scale benchmark on the local control plane: N ModelDeployments (default 300) created at
 * once, time until every one reports Ready at its generation, the operator's peak RSS, the API
 * requests it made by verb, and its writes during a quiet minute afterwards.
 *
 * Baseline, in the same run and on the same cluster: the same number of plain Deployments (one
 * pod each, the shape the operator produces) created directly and waited on until Available. That
 * is the floor the control plane and kwok impose; the difference is the operator's cost.
 *
 * Usage: node dist/bench/operator/bench.js   (env: BENCH_MDS, BENCH_IDLE_SECONDS)
 * Writes bench/results/operator.json and bench/results/operator.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { parse } from 'yaml';
import {
  adminRequest,
  clusterDown,
  clusterHealthy,
  clusterUp,
  readClusterInfo,
  repoRoot,
  type ClusterInfo,
} from '../../test/cluster/cluster.js';
import { fakeNode } from '../../test/cluster/components.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../../test/e2e/kube.js';
import { readyMdNames } from '../../test/e2e/md.js';
import { installCrd, parseMetrics, startOperator } from '../../test/e2e/operator.harness.js';

const COUNT = Number(process.env.BENCH_MDS ?? 300);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const CONCURRENCY = 16;

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Fake nodes hold 110 pods each; baseline pods may still be terminating while the operator's start. */
const PODS_PER_NODE = 110;

/** Registers extra kwok nodes so 2×COUNT pods fit; returns their names (deleted at the end). */
async function addNodes(info: ClusterInfo): Promise<string[]> {
  const needed = Math.ceil((2 * COUNT) / PODS_PER_NODE) - info.nodes.length;
  const names = Array.from({ length: Math.max(0, needed) }, (_, i) => `kwok-bench-${i}`);
  for (const name of names) {
    const created = await adminRequest(info, 'POST', '/api/v1/nodes', fakeNode(name));
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`create Node ${name}: ${created.status} ${created.body}`);
  }
  await waitFor(
    `${names.length} bench nodes Ready and untainted`,
    async () => {
      for (const name of names) {
        // The TaintNodesByCondition admission plugin taints new nodes not-ready; kwok's heartbeat makes them Ready.
        await adminRequest(
          info,
          'PATCH',
          `/api/v1/nodes/${name}`,
          { spec: { taints: null } },
          'application/merge-patch+json',
        );
        const node = JSON.parse((await adminRequest(info, 'GET', `/api/v1/nodes/${name}`)).body) as {
          spec?: { taints?: unknown[] };
          status?: { conditions?: { type: string; status: string }[] };
        };
        if (
          node.spec?.taints?.length ||
          !node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        )
          return false;
      }
      return true;
    },
    120_000,
    1000,
  );
  return names;
}

function plainDeployment(name: string, ns: string): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'server', image: 'ghcr.io/modelship/modelship:bench' }] },
      },
    },
  };
}

async function main(): Promise<void> {
  const existing = readClusterInfo();
  const reuse = existing !== undefined && (await clusterHealthy(existing));
  if (!reuse) await clusterUp({ log: (m) => process.stderr.write(`cluster: ${m}\n`) });
  process.env.MODELSHIP_E2E_KUBECONFIG = readClusterInfo()!.kubeconfig;
  const kc = loadKubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const names = Array.from({ length: COUNT }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  const namespaces: string[] = [];
  const info = readClusterInfo()!;
  const nodes = await addNodes(info);
  try {
    // Baseline: plain Deployments, no operator.
    const baseNs = await createTestNamespace(kc, 'bench-base');
    namespaces.push(baseNs);
    const b0 = Date.now();
    await pool(names, CONCURRENCY, (n) =>
      apps.createNamespacedDeployment({ namespace: baseNs, body: plainDeployment(n, baseNs) }),
    );
    await waitFor(
      `${COUNT} plain Deployments available`,
      async () =>
        (await apps.listNamespacedDeployment({ namespace: baseNs })).items.filter(
          (d) => (d.status?.availableReplicas ?? 0) >= 1,
        ).length === COUNT,
      1_800_000,
      1000,
    );
    const baselineSeconds = (Date.now() - b0) / 1000;
    process.stderr.write(`baseline: ${COUNT} Deployments available in ${baselineSeconds.toFixed(1)}s\n`);
    await deleteNamespace(kc, baseNs);

    // The operator.
    await installCrd(kc);
    const ns = await createTestNamespace(kc, 'bench-op');
    namespaces.push(ns);
    const op = await startOperator(readClusterInfo()!.kubeconfig, ns, ['--leader-elect=false', '--workers=4']);
    let peakRss = rssBytes(op.proc.pid!);
    const sampler = setInterval(() => {
      if (op.alive()) peakRss = Math.max(peakRss, rssBytes(op.proc.pid!));
    }, 500);
    const example = parse(readFileSync(join(repoRoot(), 'examples/digits.yaml'), 'utf8'));
    const t0 = Date.now();
    await pool(names, CONCURRENCY, (n) =>
      custom.createNamespacedCustomObject({
        group: 'modelship.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'modeldeployments',
        body: { ...example, metadata: { name: n, namespace: ns }, spec: { ...example.spec, replicas: 1 } },
      }),
    );
    const createdSeconds = (Date.now() - t0) / 1000;
    await waitFor(
      `${COUNT} ModelDeployments Ready`,
      async () => {
        return (await readyMdNames(custom, ns)).length === COUNT;
      },
      1_800_000,
      1000,
    );
    const readySeconds = (Date.now() - t0) / 1000;
    process.stderr.write(`operator: ${COUNT} ModelDeployments Ready in ${readySeconds.toFixed(1)}s\n`);

    const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text());
    const byVerb = (samples: Awaited<ReturnType<typeof scrape>>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const s of samples.filter((s) => s.name === 'modelship_kube_requests_total'))
        out[s.labels.verb!] = (out[s.labels.verb!] ?? 0) + s.value;
      return out;
    };
    const writes = (v: Record<string, number>) =>
      ['create', 'update', 'patch', 'apply', 'delete'].reduce((sum, k) => sum + (v[k] ?? 0), 0);
    const atReady = await scrape();
    const requestsAtReady = byVerb(atReady);
    const reconciles = atReady.filter((s) => s.name === 'modelship_reconcile_total').reduce((a, s) => a + s.value, 0);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const requestsAfterIdle = byVerb(await scrape());
    clearInterval(sampler);
    const rssAtEnd = rssBytes(op.proc.pid!);
    await op.stop();

    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      modelDeployments: COUNT,
      baseline: {
        what: `${COUNT} plain Deployments (1 pod each) created directly, until Available`,
        seconds: baselineSeconds,
      },
      operator: {
        createSeconds: createdSeconds,
        allReadySeconds: readySeconds,
        overheadSecondsVsBaseline: readySeconds - baselineSeconds,
        peakRssMiB: +(peakRss / 2 ** 20).toFixed(1),
        rssAtEndMiB: +(rssAtEnd / 2 ** 20).toFixed(1),
        reconciles,
        requestsByVerbUntilReady: requestsAtReady,
        writesUntilReady: writes(requestsAtReady),
        writesPerModelDeployment: +(writes(requestsAtReady) / COUNT).toFixed(2),
        idleSeconds: IDLE_SECONDS,
        writesWhileIdle: writes(requestsAfterIdle) - writes(requestsAtReady),
      },
    };
    const dir = join(repoRoot(), 'bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'operator.json'), JSON.stringify(result, null, 2) + '\n');
    const o = result.operator;
    writeFileSync(
      join(dir, 'operator.md'),
      [
        `# Operator scale benchmark (${result.date})`,
        '',
        `Machine: ${result.machine.cpus} cores, ${result.machine.memoryGiB} GiB, Node ${result.machine.node}; local control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok).`,
        '',
        '| measure | value |',
        '|---|---|',
        `| ModelDeployments | ${COUNT} |`,
        `| baseline: ${COUNT} plain Deployments Available | ${baselineSeconds.toFixed(1)} s |`,
        `| operator: all ModelDeployments Ready | ${o.allReadySeconds.toFixed(1)} s (creating them took ${o.createSeconds.toFixed(1)} s) |`,
        `| operator overhead vs baseline | ${o.overheadSecondsVsBaseline.toFixed(1)} s |`,
        `| operator peak RSS | ${o.peakRssMiB} MiB (at end ${o.rssAtEndMiB} MiB) |`,
        `| reconciles until Ready | ${o.reconciles} |`,
        `| API requests until Ready | ${Object.entries(o.requestsByVerbUntilReady)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} |`,
        `| writes per ModelDeployment | ${o.writesPerModelDeployment} |`,
        `| writes during ${IDLE_SECONDS} s idle | ${o.writesWhileIdle} |`,
        '',
        'Reproduce: `make bench-operator` (BENCH_MDS, BENCH_IDLE_SECONDS to change the size).',
        '',
      ].join('\n'),
    );
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const n of namespaces) await deleteNamespace(kc, n).catch(() => undefined);
    for (const n of nodes) await adminRequest(info, 'DELETE', `/api/v1/nodes/${n}`).catch(() => undefined);
    if (!reuse) await clusterDown();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench operator: ${err.message}\n`);
  process.exit(1);
});
