/**
 * The local Kubernetes control plane for e2e tests and `make run`: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (fake kubelets), as real processes on loopback —
 * or, with `node: 'real'`, one real node instead of kwok's (containerd, kubelet, kube-proxy,
 * CoreDNS, a local registry; see node.ts and the README).
 *
 * One implementation, three callers: jest's globalSetup/globalTeardown, `make cluster-up/down`
 * (through cli.ts) and tests that need `restartApiServer()` or the audit log. All state lives in
 * `<dir>/cluster.json` (dir defaults to `.state/cluster`, override with MODELSHIP_CLUSTER_DIR), so any
 * process can stop or restart what another one started.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readAuditEvents, type AuditEvent, type AuditFilter } from './audit.js';
import {
  auditPolicyYaml,
  clusterPaths,
  componentSpecs,
  fakeNode,
  kubeconfigYaml,
  type ClusterPaths,
  type ClusterPorts,
  type ComponentSpec,
} from './components.js';
import { corednsRbac } from './coredns.js';
import { clusterDomain, realNodeName, type NodePorts } from './kubelet.js';
import { leftovers as hostLeftovers } from './leftovers.js';
import { applyNetwork, nodeNetwork } from './network.js';
import { nodeComponentSpecs } from './node-components.js';
import { nodePaths } from './node-paths.js';
import {
  claimRealNode,
  cleanupNode,
  nodeFacts,
  nodeScope,
  realNodeOwner,
  realNodeUnavailable,
  resetNodeDir,
  writeNodeFiles,
  type RealNodeInfo,
} from './node.js';
import { apiServerKubeletClientUser, createPki, type Pki } from './pki.js';
import { freePorts, isRunning, killAllNow, startDetached, stopAll, type RunningProcess } from './processes.js';
import {
  pushNodeImages,
  readNodeImage,
  registryAddress,
  registryConfigYaml,
  registryPaths,
  registryReadyUrl,
  registrySpec,
} from './registry.js';
import { waitFor } from './wait.js';

export type { AuditEvent, AuditFilter } from './audit.js';
export type { RealNodeInfo } from './node.js';

/** Everything a test or tool needs to reach a running cluster; saved as `<dir>/cluster.json`. */
export interface ClusterInfo {
  /** Admin kubeconfig (system:masters), e.g. `.state/cluster/kubeconfig`. */
  kubeconfig: string;
  /** API server URL, `https://127.0.0.1:<port>`. */
  server: string;
  /** Names of the nodes: kwok's fake ones, or the real node. */
  nodes: string[];
  /** `kwok` (fake nodes, pods never run) or `real` (one real node, pods run). */
  mode: NodeMode;
  /** The real node (mode `real` only): address, registry, cluster DNS, paths. */
  realNode?: RealNodeInfo;
  ports: ClusterPorts;
  paths: ClusterPaths;
  pki: Pki;
  processes: RunningProcess[];
  binDir: string;
  startedAt: string;
}

/** How a cluster's nodes are made. */
export type NodeMode = 'kwok' | 'real';

/** Options of clusterUp. */
export interface ClusterUpOptions {
  /**
   * `kwok` (default): fake nodes only, pods become Ready at once without running. `real`: one real
   * node (root on Linux with the tools, else an error saying what is missing). `auto`: real when
   * the machine allows it, else kwok, with one log line saying why.
   */
  node?: NodeMode | 'auto';
  /**
   * State dir (default clusterDir()): clusters in different dirs never collide (but only one real node per machine).
   */
  dir?: string;
  /** Number of kwok fake nodes (default 2; kwok mode only). */
  nodes?: number;
  /** Overall deadline for each readiness step (default 180 s: generous for a loaded 2-core machine). */
  timeoutMs?: number;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

const requiredBinaries = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

/** The repository root: the nearest ancestor of this file holding package.json (works from dist/ too). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`find repository root above ${fileURLToPath(import.meta.url)}: no package.json`);
    dir = parent;
  }
  return dir;
}

/** The cluster state directory: $MODELSHIP_CLUSTER_DIR or `<repo>/.state/cluster`. */
export function clusterDir(): string {
  return resolve(process.env.MODELSHIP_CLUSTER_DIR ?? join(repoRoot(), '.state', 'cluster'));
}

/** The binary cache filled by `make cluster-build`: $MODELSHIP_BIN_CACHE or `~/.cache/modelship/bin`. */
export function binDir(): string {
  return resolve(process.env.MODELSHIP_BIN_CACHE ?? join(homedir(), '.cache', 'modelship', 'bin'));
}

/** Path of the state file of the cluster in dir. */
export function clusterInfoPath(dir = clusterDir()): string {
  return join(dir, 'cluster.json');
}

/** Reads the state of the cluster in dir, or undefined when none was started (or it was taken down). */
export function readClusterInfo(dir = clusterDir()): ClusterInfo | undefined {
  const path = clusterInfoPath(dir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterInfo;
}

function saveClusterInfo(info: ClusterInfo): void {
  const path = clusterInfoPath(info.paths.dir);
  writeFileSync(`${path}.tmp`, JSON.stringify(info, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

/** A plain HTTP(S) response. */
interface HttpResult {
  status: number;
  body: string;
}

/** One request to the API server as the cluster admin (client certificate, verified CA); body is sent as JSON. */
export function adminRequest(
  info: ClusterInfo,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<HttpResult> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      `${info.server}${path}`,
      {
        method,
        ca: readFileSync(info.pki.ca.cert),
        cert: readFileSync(info.pki.admin.cert),
        key: readFileSync(info.pki.admin.key),
        headers: payload === undefined ? {} : { 'content-type': contentType },
        timeout: 15_000,
      },
      (res) => collect(res, resolvePromise, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', (err) => reject(new Error(`${method} ${info.server}${path}: ${err.message}`)));
    req.end(payload);
  });
}

function collect(
  res: import('node:http').IncomingMessage,
  ok: (r: HttpResult) => void,
  fail: (e: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('error', fail);
}

/** GET on a component's own health endpoint (self-signed serving cert, anonymous access to /healthz). */
function probe(url: string): Promise<HttpResult> {
  return new Promise((ok, fail) => {
    const options = { timeout: 5_000, rejectUnauthorized: false };
    const req = url.startsWith('https:')
      ? httpsRequest(url, options, (res) => collect(res, ok, fail))
      : httpRequest(url, { timeout: 5_000 }, (res) => collect(res, ok, fail));
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', (err) => fail(new Error(`GET ${url}: ${err.message}`)));
    req.end();
  });
}

function logTail(path: string, lines = 30): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Waits for a component to be healthy; fails fast, with its log tail, if its process died. */
async function waitHealthy(
  proc: RunningProcess,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let outcome: 'ready' | 'exited';
  try {
    outcome = await waitFor(
      `${proc.name} ${what}`,
      async () => (isRunning(proc) ? (await check()) && ('ready' as const) : ('exited' as const)),
      timeoutMs,
      300,
    );
  } catch (err) {
    throw new Error(
      `start ${proc.name}: ${(err as Error).message}; last log lines (${proc.log}):\n${logTail(proc.log)}`,
      { cause: err },
    );
  }
  if (outcome === 'exited')
    throw new Error(
      `start ${proc.name}: exited while waiting for ${what}; last log lines (${proc.log}):\n${logTail(proc.log)}`,
    );
}

async function startComponent(info: ClusterInfo, spec: ComponentSpec): Promise<RunningProcess> {
  const proc = await startDetached(spec.name, spec.bin, spec.args, spec.log);
  info.processes.push(proc);
  saveClusterInfo(info);
  return proc;
}

async function apiServerReady(info: ClusterInfo): Promise<boolean> {
  const res = await adminRequest(info, 'GET', '/readyz');
  return res.status === 200;
}

/** Stops a cluster left behind by an earlier run that crashed or was killed (its pids are in cluster.json). */
async function stopStale(dir: string): Promise<void> {
  const stale = readClusterInfo(dir);
  if (stale) await stopAll([...stale.processes].reverse());
}

/** The node mode clusterUp runs: `auto` resolved against this machine (logging why not real, in one line). */
export function resolveNodeMode(requested: NodeMode | 'auto', bins: string, log: (message: string) => void): NodeMode {
  if (requested === 'kwok') return 'kwok';
  const why = realNodeUnavailable(nodeFacts(bins));
  if (!why) return 'real';
  if (requested === 'real') throw new Error(`start cluster: ${why}`);
  log(`kwok nodes: ${why}`);
  return 'kwok';
}

/**
 * Starts a fresh cluster (stopping any earlier one in the same dir first) and waits until it is
 * usable: API server /readyz, controller-manager and scheduler /healthz, every fake node Ready, and
 * the `default` ServiceAccount present. On failure it stops what it started and throws with the
 * failing component's log tail.
 */
export async function clusterUp(options: ClusterUpOptions = {}): Promise<ClusterInfo> {
  // A free port can be taken by another process between probing and binding (several clusters and
  // servers start on this machine at once); such a start is retried with fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
      options.log?.(`a port was taken while starting (attempt ${attempt}); retrying with fresh ports`);
    }
  }
}

async function startCluster(options: ClusterUpOptions): Promise<ClusterInfo> {
  const log = options.log ?? ((): void => {});
  const timeoutMs = options.timeoutMs ?? 180_000;
  const dir = resolve(options.dir ?? clusterDir());
  const bins = binDir();
  const mode = resolveNodeMode(options.node ?? 'kwok', bins, log);
  const missing = [...requiredBinaries, ...(mode === 'kwok' ? ['kwok'] : [])].filter((b) => !existsSync(join(bins, b)));
  if (missing.length > 0)
    throw new Error(`start cluster: missing ${missing.join(', ')} in ${bins}; run \`make cluster-build\``);

  const stale = readClusterInfo(dir);
  await stopStale(dir);
  if (mode === 'real') await prepareRealNode(dir, log);
  // A kwok cluster in a dir that last ran the real node: its node goes too (links, mounts, ...).
  else if (stale?.mode === 'real' || realNodeOwner() === dir) cleanupNode(dir);
  const paths = clusterPaths(dir);
  if (existsSync(paths.logsDir)) {
    rmSync(`${paths.logsDir}.previous`, { recursive: true, force: true });
    renameSync(paths.logsDir, `${paths.logsDir}.previous`);
  }
  for (const sub of ['etcd', 'pki', 'serving']) rmSync(join(dir, sub), { recursive: true, force: true });
  mkdirSync(paths.logsDir, { recursive: true });

  log('creating certificates');
  const net = nodeNetwork;
  const pki = createPki(join(dir, 'pki'), mode === 'real' ? { name: realNodeName, ip: net.nodeIp } : undefined);
  const [etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwok, ...nodePortList] = await freePorts(12);
  const ports: ClusterPorts = { etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwok };
  // With a real node the API server listens on the node address (pods reach it there); that
  // address is local, so the kubeconfig works from the host as before.
  const server = `https://${mode === 'real' ? net.nodeIp : '127.0.0.1'}:${ports.apiServer}`;
  const ca = readFileSync(pki.ca.cert, 'utf8');
  const writeKubeconfig = (path: string, pair: { cert: string; key: string }, user: string): void =>
    writeFileSync(
      path,
      kubeconfigYaml(server, ca, readFileSync(pair.cert, 'utf8'), readFileSync(pair.key, 'utf8'), user),
      { mode: 0o600 },
    );
  writeKubeconfig(paths.adminKubeconfig, pki.admin, 'modelship-admin');
  writeKubeconfig(paths.controllerManagerKubeconfig, pki.controllerManager, 'system:kube-controller-manager');
  writeKubeconfig(paths.schedulerKubeconfig, pki.scheduler, 'system:kube-scheduler');
  writeKubeconfig(paths.kwokKubeconfig, pki.kwok, 'kwok-controller');
  writeFileSync(paths.auditPolicy, auditPolicyYaml);
  if (mode === 'kwok') copyFileSync(join(bins, 'kwok-stages.yaml'), paths.kwokStages);

  const nodeCount = options.nodes ?? 2;
  const realNode = mode === 'real' ? realNodeInfo(dir, bins, nodePortList) : undefined;
  const info: ClusterInfo = {
    kubeconfig: paths.adminKubeconfig,
    server,
    nodes: realNode ? [realNode.name] : Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`),
    mode,
    ...(realNode ? { realNode } : {}),
    ports,
    paths,
    pki,
    processes: [],
    binDir: bins,
    startedAt: new Date().toISOString(),
  };
  const [etcdSpec, apiSpec, kcmSpec, schedSpec, kwokSpec] = componentSpecs(
    bins,
    ports,
    paths,
    pki,
    realNode ? { nodeIp: realNode.ip } : undefined,
  );

  try {
    if (realNode) {
      // Before the API server: it binds the node address.
      log(
        `creating the node network (${net.nodeLink} ${net.nodeIp}, ${net.bridge} ${net.podCidr}, Services ${net.serviceCidr}, nftables guard ${net.guardTable})`,
      );
      claimRealNode(dir);
      applyNetwork(net);
    }
    log(`starting etcd on 127.0.0.1:${ports.etcdClient}`);
    const etcd = await startComponent(info, etcdSpec);
    await waitHealthy(
      etcd,
      '/health',
      async () => (await probe(`http://127.0.0.1:${ports.etcdClient}/health`)).body.includes('"health":"true"'),
      timeoutMs,
    );

    log(`starting kube-apiserver on ${server}`);
    const api = await startComponent(info, apiSpec);
    await waitHealthy(api, '/readyz', () => apiServerReady(info), timeoutMs);

    log('starting kube-controller-manager and kube-scheduler');
    const kcm = await startComponent(info, kcmSpec);
    const sched = await startComponent(info, schedSpec);
    await waitHealthy(
      kcm,
      '/healthz',
      async () => (await probe(`https://127.0.0.1:${ports.controllerManager}/healthz`)).status === 200,
      timeoutMs,
    );
    await waitHealthy(
      sched,
      '/healthz',
      async () => (await probe(`https://127.0.0.1:${ports.scheduler}/healthz`)).status === 200,
      timeoutMs,
    );

    if (realNode) {
      await startRealNode(info, realNode, log, timeoutMs);
    } else {
      await startKwok(info, kwokSpec, log, timeoutMs);
    }

    log('waiting for the default ServiceAccount');
    await waitHealthy(
      kcm,
      'default ServiceAccount',
      async () =>
        (await adminRequest(info, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      timeoutMs,
    );
  } catch (err) {
    await stopAll([...info.processes].reverse()).catch(() => {});
    if (realNode) cleanupNode(dir);
    rmSync(clusterInfoPath(dir), { force: true });
    throw err;
  }
  saveClusterInfo(info);
  return info;
}

/** Registers kwok's fake nodes and starts kwok, waiting for every node to be Ready. */
async function startKwok(
  info: ClusterInfo,
  kwokSpec: ComponentSpec,
  log: (message: string) => void,
  timeoutMs: number,
): Promise<void> {
  log(`registering ${info.nodes.length} fake nodes and starting kwok`);
  {
    for (const name of info.nodes) {
      const res = await adminRequest(info, 'POST', '/api/v1/nodes', fakeNode(name));
      if (res.status !== 201) throw new Error(`create Node ${name}: HTTP ${res.status}: ${res.body}`);
      // The TaintNodesByCondition admission plugin taints every new Node not-ready; normally the
      // node-lifecycle controller lifts it, but that controller would also evict pods whenever a
      // fake heartbeat is late on a loaded machine, so it is not run and the taint is lifted here.
      const untaint = await adminRequest(
        info,
        'PATCH',
        `/api/v1/nodes/${name}`,
        { spec: { taints: null } },
        'application/merge-patch+json',
      );
      if (untaint.status !== 200)
        throw new Error(`patch Node ${name} (remove not-ready taint): HTTP ${untaint.status}: ${untaint.body}`);
    }
    const kwokProc = await startComponent(info, kwokSpec);
    await waitHealthy(kwokProc, 'nodes Ready', () => nodesReady(info), timeoutMs);
  }
}

/**
 * Before a real node starts: stops and removes whatever a previous run left (recorded or found by
 * our names), refusing if another cluster dir's real node is still running.
 */
async function prepareRealNode(dir: string, log: (message: string) => void): Promise<void> {
  const owner = realNodeOwner();
  if (owner && owner !== dir) {
    const other = readClusterInfo(owner);
    if (other && other.mode === 'real' && other.processes.some(isRunning)) {
      throw new Error(
        `start real node: the cluster in ${owner} runs this machine's real node; stop it first (MODELSHIP_CLUSTER_DIR=${owner} make cluster-down)`,
      );
    }
    await stopStale(owner);
    cleanupNode(owner);
  }
  const done = cleanupNode(dir);
  if (done.length > 0) log(`cleaned up after an earlier run: ${done.join('; ')}`);
  resetNodeDir(dir);
}

/** Ports and paths of the real node, and the images it will pull. */
function realNodeInfo(dir: string, bins: string, nodePortList: number[]): RealNodeInfo {
  const [kubelet, kubeletHealthz, kubeProxyHealthz, kubeProxyMetrics, corednsReady, registry] = nodePortList;
  const ports: NodePorts = { kubelet, kubeletHealthz, kubeProxyHealthz, kubeProxyMetrics, corednsReady, registry };
  const net = nodeNetwork;
  return {
    name: realNodeName,
    ip: net.nodeIp,
    registry: registryAddress(ports.registry),
    clusterDns: net.nodeIp,
    clusterDomain,
    podCidr: net.podCidr,
    serviceCidr: net.serviceCidr,
    containerdSocket: nodePaths(dir).containerdSocket,
    ports,
    paths: nodePaths(dir),
    images: { pause: readNodeImage(bins, 'pause').ref, agnhost: readNodeImage(bins, 'agnhost').ref },
  };
}

/** Creates objects as the admin; 409 (already there) is fine. */
async function createAll(info: ClusterInfo, objects: { path: string; body: object }[]): Promise<void> {
  for (const o of objects) {
    const res = await adminRequest(info, 'POST', o.path, o.body);
    if (res.status !== 201 && res.status !== 409) throw new Error(`create ${o.path}: HTTP ${res.status}: ${res.body}`);
  }
}

/**
 * Starts the real node on a running control plane: RBAC for the API server's kubelet calls and
 * CoreDNS, the registry (with pause and agnhost pushed), containerd, kubelet, kube-proxy, CoreDNS;
 * waits for each, then for the node to be Ready with the node-lifecycle controller having lifted
 * its not-ready taint.
 */
async function startRealNode(
  info: ClusterInfo,
  node: RealNodeInfo,
  log: (message: string) => void,
  timeoutMs: number,
): Promise<void> {
  const rbac = 'rbac.authorization.k8s.io/v1';
  const [corednsRole, corednsBinding] = corednsRbac();
  await createAll(info, [
    {
      path: `/apis/${rbac}/clusterrolebindings`,
      body: {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'modelship:kube-apiserver-kubelet-client' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: apiServerKubeletClientUser }],
      },
    },
    { path: `/apis/${rbac}/clusterroles`, body: corednsRole },
    { path: `/apis/${rbac}/clusterrolebindings`, body: corednsBinding },
  ]);

  const regPaths = registryPaths(info.paths.dir);
  mkdirSync(regPaths.storage, { recursive: true });
  writeFileSync(regPaths.config, registryConfigYaml(node.ports.registry, regPaths.storage));
  log(`starting the registry on ${node.registry}`);
  const registry = await startComponent(info, registrySpec(info.binDir, regPaths));
  await waitHealthy(
    registry,
    '/v2/',
    async () => (await probe(registryReadyUrl(node.ports.registry))).status === 200,
    timeoutMs,
  );
  const pushStarted = Date.now();
  await pushNodeImages(info.binDir, node.registry, ['pause', 'agnhost']);
  log(`pushed ${node.images.pause} and ${node.images.agnhost} in ${((Date.now() - pushStarted) / 1000).toFixed(1)}s`);

  writeNodeFiles({
    paths: node.paths,
    net: nodeNetwork,
    pki: info.pki,
    ports: node.ports,
    server: info.server,
    registry: node.registry,
    sandboxImage: node.images.pause,
  });
  const [containerdSpec, kubeletSpec, kubeProxySpec, corednsSpec] = nodeComponentSpecs(
    info.binDir,
    info.paths.logsDir,
    node.paths,
    nodeNetwork,
  );
  log('starting containerd');
  const containerd = await startComponent(info, containerdSpec);
  await waitHealthy(containerd, 'its socket', () => containerdAnswers(node.paths.containerdSocket), timeoutMs);

  log(`starting kubelet, kube-proxy and CoreDNS on ${node.ip}`);
  const kubeletStarted = Date.now();
  const kubelet = await startComponent(info, kubeletSpec);
  const kubeProxy = await startComponent(info, kubeProxySpec);
  const coredns = await startComponent(info, corednsSpec);
  await waitHealthy(
    kubelet,
    '/healthz',
    async () => (await probe(`http://127.0.0.1:${node.ports.kubeletHealthz}/healthz`)).status === 200,
    timeoutMs,
  );
  await waitHealthy(
    kubeProxy,
    '/healthz',
    async () => (await probe(`http://127.0.0.1:${node.ports.kubeProxyHealthz}/healthz`)).status === 200,
    timeoutMs,
  );
  await waitHealthy(
    coredns,
    '/ready',
    async () => (await probe(`http://127.0.0.1:${node.ports.corednsReady}/ready`)).status === 200,
    timeoutMs,
  );
  log(`waiting for node ${node.name} to be Ready (the node-lifecycle controller lifts its not-ready taint)`);
  await waitHealthy(kubelet, 'node Ready and untainted', () => realNodeReady(info, node.name), timeoutMs);
  log(
    `node ${node.name} Ready and untainted ${((Date.now() - kubeletStarted) / 1000).toFixed(1)}s after kubelet started`,
  );
}

/** True once containerd answers on socket (`ctr version`). */
async function containerdAnswers(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  try {
    execFileSync('ctr', ['--address', socket, 'version'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** The node is Ready and carries no node.kubernetes.io/not-ready taint. */
async function realNodeReady(info: ClusterInfo, name: string): Promise<boolean> {
  const res = await adminRequest(info, 'GET', `/api/v1/nodes/${name}`);
  if (res.status !== 200) return false;
  const node = JSON.parse(res.body) as {
    spec?: { taints?: { key: string }[] };
    status?: { conditions?: { type: string; status: string }[] };
  };
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return ready && !(node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready');
}

async function nodesReady(info: ClusterInfo): Promise<boolean> {
  const res = await adminRequest(info, 'GET', '/api/v1/nodes');
  if (res.status !== 200) return false;
  const list = JSON.parse(res.body) as {
    items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
  };
  return info.nodes.every((name) =>
    list.items.some(
      (n) => n.metadata.name === name && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ),
  );
}

/** True when the cluster recorded in dir has all processes alive and its API server answers /readyz. */
export async function clusterHealthy(info: ClusterInfo): Promise<boolean> {
  if (!info.processes.every(isRunning)) return false;
  return apiServerReady(info).catch(() => false);
}

/**
 * Stops every process of the cluster in dir (SIGTERM, then SIGKILL) and forgets it; logs are kept.
 * With a real node (or traces of one from a killed run) it then removes what the node left:
 * containers and shims, mounts, links, iptables/nftables rules, cgroups. Safe to run twice.
 */
export async function clusterDown(dir = clusterDir()): Promise<void> {
  dir = resolve(dir);
  const info = readClusterInfo(dir);
  if (info) await stopAll([...info.processes].reverse());
  // Ours to clean: our real node, or traces of a real node nobody holds (a second `down`, a lost
  // cluster.json). Never while another dir's real node runs, nor for a kwok cluster.
  const owner = realNodeOwner();
  if (info?.mode === 'real' || owner === dir || (!info && owner === undefined)) cleanupNode(dir);
  rmSync(clusterInfoPath(dir), { force: true });
}

/** What the real node of the cluster in dir left on this machine; empty when it is clean. */
export function leftovers(dir = clusterDir()): string[] {
  return hostLeftovers(nodeScope(resolve(dir)));
}

/**
 * Kills the cluster synchronously (SIGKILL) when this process exits or gets SIGINT/SIGTERM/SIGHUP,
 * so an interrupted test run leaves nothing behind. Returns a function that removes the handlers.
 */
export function stopClusterOnExit(info: ClusterInfo): () => void {
  // Re-read the state file: restartApiServer (possibly from a test) replaces the API server's pid.
  const killCluster = (): void => {
    killAllNow([...info.processes, ...(readClusterInfo(info.paths.dir)?.processes ?? [])]);
    // Not once another dir has claimed the machine's real node (after our down, say).
    const owner = realNodeOwner();
    if (info.mode === 'real' && (owner === info.paths.dir || owner === undefined)) cleanupNode(info.paths.dir);
  };
  const onExit = (): void => killCluster();
  const onSignal = (signal: NodeJS.Signals): void => {
    killCluster();
    rmSync(clusterInfoPath(info.paths.dir), { force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);
  return () => {
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
  };
}

/**
 * Stops kube-apiserver and starts it again on the same port with the same flags (etcd keeps the
 * data), then waits for /readyz. For testing watch recovery. Works from any process (jest workers too).
 */
export async function restartApiServer(dir = clusterDir(), timeoutMs = 180_000): Promise<ClusterInfo> {
  const info = readClusterInfo(dir);
  if (!info) throw new Error(`restart kube-apiserver: no cluster recorded in ${clusterInfoPath(dir)}`);
  const index = info.processes.findIndex((p) => p.name === 'kube-apiserver');
  if (index < 0) throw new Error(`restart kube-apiserver: not among the processes in ${clusterInfoPath(dir)}`);
  const old = info.processes[index];
  await stopAll([old]);
  const proc = await startDetached(old.name, old.bin, old.args, old.log);
  info.processes[index] = proc;
  saveClusterInfo(info);
  await waitHealthy(proc, '/readyz after restart', () => apiServerReady(info), timeoutMs);
  await controllersCaughtUp(info, timeoutMs);
  return info;
}

/**
 * Waits until kube-controller-manager acts on new objects again. After an API server restart its
 * watches come back with a backoff (about a minute after two restarts in quick succession), and a
 * test that starts meanwhile gets no ServiceAccounts, ReplicaSets or pods. The sign is the
 * `default` ServiceAccount of a throwaway namespace.
 */
async function controllersCaughtUp(info: ClusterInfo, timeoutMs: number): Promise<void> {
  const name = `restart-probe-${randomBytes(3).toString('hex')}`;
  const created = await adminRequest(info, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  if (created.status !== 201)
    throw new Error(`restart kube-apiserver: create namespace ${name}: HTTP ${created.status}: ${created.body}`);
  try {
    await waitFor(
      `kube-controller-manager to catch up after the API server restart (ServiceAccount ${name}/default)`,
      async () =>
        (await adminRequest(info, 'GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
      timeoutMs,
      300,
    );
  } finally {
    await adminRequest(info, 'DELETE', `/api/v1/namespaces/${name}`);
  }
}

/** Audit events of the cluster in dir matching filter (see AuditFilter), oldest first. */
export function auditEvents(filter: AuditFilter = {}, dir = clusterDir()): AuditEvent[] {
  return readAuditEvents(clusterPaths(dir).auditLog, filter);
}
