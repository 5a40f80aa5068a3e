/**
 * Helpers of the e2e-node tests: the real-node cluster globalSetup started, REST calls as its
 * admin, kubectl, and the small objects the tests apply. Every wait is a waitFor with a deadline.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { adminRequest, readClusterInfo, type ClusterInfo } from '../cluster/cluster.js';

const run = promisify(execFile);

/** The real-node cluster of this jest run (globalSetup's state dir). */
export function nodeCluster(): ClusterInfo & { realNode: NonNullable<ClusterInfo['realNode']> } {
  const dir = process.env.MODELSHIP_E2E_NODE_CLUSTER_DIR;
  if (!dir)
    throw new Error(
      'read real-node cluster: MODELSHIP_E2E_NODE_CLUSTER_DIR unset (run through the e2e-node jest project)',
    );
  const info = readClusterInfo(dir);
  if (!info?.realNode) throw new Error(`read real-node cluster: no real node recorded in ${dir}/cluster.json`);
  return info as ClusterInfo & { realNode: NonNullable<ClusterInfo['realNode']> };
}

/** A JSON API call as the cluster admin; throws unless the status is one of ok. */
export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  ok = [200, 201],
  contentType?: string,
): Promise<T> {
  const res = await adminRequest(nodeCluster(), method, path, body, contentType);
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  return (res.body ? JSON.parse(res.body) : undefined) as T;
}

/** Result of one kubectl run. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs kubectl (from the binary cache) with the cluster's admin kubeconfig; never throws on a non-zero exit. */
export async function kubectl(args: string[], timeoutMs = 60_000): Promise<KubectlResult> {
  const info = nodeCluster();
  const started = Date.now();
  try {
    const { stdout, stderr } = await run(join(info.binDir, 'kubectl'), ['--kubeconfig', info.kubeconfig, ...args], {
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr, ms: Date.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
      ms: Date.now() - started,
    };
  }
}

/** The agnhost image (its upstream name: containerd pulls it through the local registry mirror). */
export function agnhostImage(): string {
  return nodeCluster().realNode.images.agnhost;
}

/** An agnhost netexec container on 8080 with a readiness probe; SIGTERM makes it log and exit after delayShutdown s. */
export function netexecContainer(delayShutdown = 2): object {
  return {
    name: 'netexec',
    image: agnhostImage(),
    imagePullPolicy: 'Always',
    args: ['netexec', '--http-port=8080', `--delay-shutdown=${delayShutdown}`],
    ports: [{ containerPort: 8080, name: 'http' }],
    readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
  };
}

/** Minimal pod shape the tests read. */
export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    uid: string;
  };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { ready: boolean; imageID?: string }[];
  };
}

/** Pods of namespace matching selector. */
export async function pods(namespace: string, selector: string): Promise<Pod[]> {
  const list = await api<{ items: Pod[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`,
  );
  return list.items;
}

/** True when the pod is Ready. */
export function podReady(pod: Pod): boolean {
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * GET over plain HTTP with a deadline, resolving to status and body, or rejecting with the socket
 * error (its `code`, e.g. ECONNREFUSED). No keep-alive: nothing stays open after the test.
 */
export function httpGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`GET ${url}: timed out after ${timeoutMs}ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end();
  });
}
