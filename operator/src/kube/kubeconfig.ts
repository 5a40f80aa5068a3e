/**
 * The CLI's way to the API server, without loading @kubernetes/client-node: importing it costs
 * about 0.35 s (its generated API, thousands of modules) on every command, more than the command
 * itself. A kubeconfig with static credentials (client certificates, a token, basic auth; the
 * kind kind, k3d, minikube and the local test cluster write) is read here with `yaml`; anything
 * else (exec plugins, auth providers, proxies, several files to merge, in-cluster) goes to
 * client-node's KubeConfig, loaded only then, so every kubeconfig kubectl accepts still works.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { credentialsOf, type Credentials } from './http.js';

/** Where the cluster is, how to authenticate, and the current context's namespace. */
export interface ClusterAccess {
  credentials: Credentials;
  namespace: string;
}

/** The kubeconfig fields the fast path reads. */
interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context?: { cluster?: string; user?: string; namespace?: string } }[];
  clusters?: { name: string; cluster?: Record<string, unknown> }[];
  users?: { name: string; user?: Record<string, unknown> }[];
}

/**
 * Cluster fields the fast path handles; any other (proxy-url…) takes client-node's way. extensions
 * (minikube writes its provider there) only inform, and this client asks for no compression.
 */
const CLUSTER_FIELDS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
  'extensions',
  'disable-compression',
]);

/** User fields the fast path handles; exec, auth-provider, tokenFile, impersonation take client-node's way. */
const USER_FIELDS = new Set([
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
  'token',
  'username',
  'password',
]);

/**
 * Static credentials from one parsed kubeconfig (`dir` resolves its relative file names, as
 * kubectl does), or why client-node must read it instead.
 */
export function staticAccessOf(
  config: Kubeconfig,
  dir: string,
  readFile: (path: string) => Buffer = (path) => readFileSync(path),
): ClusterAccess | { fallback: string } {
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (context === undefined) return { fallback: `no context named "${contextName ?? ''}"` };
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  if (cluster === undefined || typeof cluster.server !== 'string') return { fallback: 'no cluster server' };
  const unknown = [
    ...Object.keys(cluster).filter((k) => !CLUSTER_FIELDS.has(k)),
    ...Object.keys(user).filter((k) => !USER_FIELDS.has(k)),
  ];
  if (unknown.length > 0) return { fallback: `uses ${unknown.join(', ')}` };
  const file = (name: unknown): Buffer => readFile(isAbsolute(String(name)) ? String(name) : join(dir, String(name)));
  const material = (dataKey: string, fileKey: string, from: Record<string, unknown>): Buffer | undefined =>
    typeof from[dataKey] === 'string'
      ? Buffer.from(from[dataKey], 'base64')
      : from[fileKey] !== undefined
        ? file(from[fileKey])
        : undefined;
  const headers: Record<string, string> = {};
  if (typeof user.token === 'string') headers.Authorization = `Bearer ${user.token}`;
  else if (typeof user.username === 'string') {
    headers.Authorization = `Basic ${Buffer.from(`${user.username}:${String(user.password ?? '')}`).toString('base64')}`;
  }
  const credentials: Credentials = {
    server: cluster.server,
    tls: {},
    headers: () => Promise.resolve(headers),
  };
  const ca = material('certificate-authority-data', 'certificate-authority', cluster);
  const cert = material('client-certificate-data', 'client-certificate', user);
  const key = material('client-key-data', 'client-key', user);
  if (ca) credentials.tls.ca = ca;
  if (cert) credentials.tls.cert = cert;
  if (key) credentials.tls.key = key;
  if (cluster['insecure-skip-tls-verify'] === true) credentials.tls.rejectUnauthorized = false;
  if (typeof cluster['tls-server-name'] === 'string') credentials.tls.servername = cluster['tls-server-name'];
  return { credentials, namespace: context.namespace ?? 'default' };
}

/**
 * Access from a kubeconfig file, or the default chain ($KUBECONFIG, ~/.kube/config, in-cluster),
 * through the fast path when it can and client-node's KubeConfig when it must.
 */
export async function loadClusterAccess(file?: string): Promise<ClusterAccess> {
  const fromEnv = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  const chain = file ? [file] : fromEnv.length > 0 ? fromEnv : existsSync(home) ? [home] : [];
  if (chain.length === 1) {
    const path = chain[0]!;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`load kubeconfig ${path}: ${(e as Error).message}`, { cause: e });
    }
    const access = staticAccessOf((parse(text) ?? {}) as Kubeconfig, dirname(path));
    if (!('fallback' in access)) return access;
  }
  // The operator's loader, which loads client-node and prom-client: only for what the fast path cannot read.
  const { loadKubeConfig } = await import('./client.js');
  const kc = loadKubeConfig(file);
  return {
    credentials: await credentialsOf(kc),
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default',
  };
}
