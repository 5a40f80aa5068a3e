/**
 * Runs the operator as a real process (`node dist/operator/src/main.js`) for e2e tests, as a
 * ServiceAccount bound to exactly the RBAC rules of the Helm chart, so every e2e run also proves
 * the chart's least-privilege rules are enough. Reads the operator's own /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { repoRoot } from '../cluster/cluster.js';
import {
  applyYaml,
  createTestNamespace,
  deleteNamespace,
  kubeConfigWithToken,
  serviceAccountToken,
  waitFor,
} from './kube.js';

/** ServiceAccount name the e2e operator runs as. */
export const OPERATOR_SA = 'modelship-operator';

/** The audit-log username of the e2e operator in namespace ns. */
export function operatorUser(ns: string): string {
  return `system:serviceaccount:${ns}:${OPERATOR_SA}`;
}

/**
 * The rules of the chart's main (Cluster)Role, read from the template: that block is plain YAML
 * (no template directives), so the test uses exactly what users install.
 */
export function chartRules(): unknown[] {
  const text = readFileSync(join(repoRoot(), 'charts/modelship/templates/rbac.yaml'), 'utf8');
  const match = /\nrules:\n([\s\S]*?)\n---/.exec(text);
  if (!match) throw new Error('read charts/modelship/templates/rbac.yaml: no rules block before the first ---');
  return parse(`rules:\n${match[1]}`).rules as unknown[];
}

/** Installs the CRD (server-side apply; idempotent across test files). */
export async function installCrd(kc: KubeConfig): Promise<void> {
  await applyYaml(kc, readFileSync(join(repoRoot(), 'crds/modeldeployments.modelship.dev.yaml'), 'utf8'));
  await waitFor(
    'CRD modeldeployments.modelship.dev established',
    async () => {
      const objs = await applyYaml(
        kc,
        readFileSync(join(repoRoot(), 'crds/modeldeployments.modelship.dev.yaml'), 'utf8'),
      );
      const conds =
        (objs[0] as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
      return conds.some((c) => c.type === 'Established' && c.status === 'True');
    },
    60_000,
    500,
  );
}

/**
 * Creates the operator's ServiceAccount and binds it, in ns only, to the chart's rules plus the
 * leader-election Lease rule; returns a kubeconfig file that authenticates with its token.
 */
export async function operatorKubeconfig(kc: KubeConfig, ns: string): Promise<string> {
  const objects = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: OPERATOR_SA, namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: OPERATOR_SA, namespace: ns },
      rules: chartRules(),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${OPERATOR_SA}-leader-election`, namespace: ns },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          resourceNames: ['modelship-operator'],
          verbs: ['get', 'update'],
        },
      ],
    },
    ...[OPERATOR_SA, `${OPERATOR_SA}-leader-election`].map((role) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: role, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SA, namespace: ns }],
    })),
  ];
  await applyYaml(kc, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  const token = await serviceAccountToken(kc, ns, OPERATOR_SA);
  const dir = join(repoRoot(), '.state', 'e2e');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${ns}.kubeconfig`);
  writeFileSync(file, kubeConfigWithToken(kc, token, OPERATOR_SA).exportConfig(), { mode: 0o600 });
  return file;
}

/** A running operator process. */
export interface OperatorProcess {
  proc: ChildProcess;
  /** Port of /metrics, /healthz, /readyz on 127.0.0.1. */
  port: number;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** True while the process runs. */
  alive(): boolean;
  /** Sum of one metric's samples whose labels match (all samples when no labels given). */
  metric(name: string, match?: (labels: Record<string, string>) => boolean): Promise<number>;
  /** Sends a signal and waits for the process to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Parses Prometheus text exposition into samples. */
export function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Starts the operator for namespace ns with the given kubeconfig and extra flags. */
export async function startOperator(
  kubeconfig: string,
  ns: string,
  extraArgs: string[] = [],
): Promise<OperatorProcess> {
  const logs: Record<string, unknown>[] = [];
  const proc = spawn(
    process.execPath,
    [
      join(repoRoot(), 'dist/operator/src/main.js'),
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${ns}`,
      `--lease-namespace=${ns}`,
      '--metrics-host=127.0.0.1',
      '--metrics-port=0',
      '--server-image=ghcr.io/modelship/modelship:e2e',
      '--workers=4',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
  );
  let exited = false;
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => ((exited = true), resolve(code))));
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const address = await waitFor(
    'operator metrics address',
    () => {
      if (exited) throw new Error(`operator exited: ${JSON.stringify(logs.slice(-5))}`);
      return logs.find((l) => l.msg === 'serving metrics and probes')?.address as string | undefined;
    },
    60_000,
    100,
  );
  const port = Number(address.split(':').pop());
  const metric = async (
    name: string,
    match: (labels: Record<string, string>) => boolean = () => true,
  ): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return parseMetrics(await res.text())
      .filter((s) => s.name === name && match(s.labels))
      .reduce((sum, s) => sum + s.value, 0);
  };
  return {
    proc,
    port,
    logs,
    alive: () => !exited,
    metric,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (exited) return proc.exitCode;
      proc.kill(signal);
      return exit;
    },
  };
}

/** A test file's own operator: a fresh namespace and an operator process for it alone. */
export interface OperatorInNamespace {
  ns: string;
  op: OperatorProcess;
}

/**
 * Installs the CRD, makes a namespace named after `prefix` and starts the operator for it (as the
 * chart's ServiceAccount, without leader election): a test file's beforeAll.
 */
export async function startOperatorInNamespace(kc: KubeConfig, prefix: string): Promise<OperatorInNamespace> {
  await installCrd(kc);
  const ns = await createTestNamespace(kc, prefix);
  return { ns, op: await startOperator(await operatorKubeconfig(kc, ns), ns, ['--leader-elect=false']) };
}

/**
 * Stops what {@link startOperatorInNamespace} started (either part may be missing when it failed
 * half-way): resolves with the operator's exit code, which a clean SIGTERM exit makes 0.
 */
export async function stopOperatorInNamespace(
  kc: KubeConfig,
  started: Partial<OperatorInNamespace>,
): Promise<number | null | undefined> {
  const code = await started.op?.stop();
  if (started.ns) await deleteNamespace(kc, started.ns);
  return code;
}

/** API writes the operator made (create, update, patch, apply, delete), Lease renewals excluded. */
export function operatorWrites(op: OperatorProcess): Promise<number> {
  return op.metric(
    'modelship_kube_requests_total',
    (l) => ['create', 'update', 'patch', 'apply', 'delete'].includes(l.verb!) && l.resource !== 'leases',
  );
}
