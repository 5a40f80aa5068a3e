/**
 * The real node's thin shell: can this machine run one, write its files, and clean up everything
 * it may leave (after `down`, or a killed run, before the next `up`). What to run and what to
 * write is decided by the pure modules (network, containerd, kubelet, kube-proxy, coredns,
 * registry, leftovers); cluster.ts starts the processes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { kubeconfigYaml } from './components.js';
import { cniBinDir, cniConflist, containerdConfigToml, runcBinary } from './containerd.js';
import { corefile } from './coredns.js';
import { kubeProxyConfigYaml } from './kube-proxy.js';
import { kubeletConfigYaml, resolvConf, type NodePorts } from './kubelet.js';
import {
  cgroupHierarchies,
  cniCacheFiles,
  containerLogLinks,
  containerLogLinksDir,
  kubepodsCgroup,
  listProcesses,
  mountPointsUnder,
  processesOfOurs,
  type LeftoverScope,
} from './leftovers.js';
import { nodeNetwork, removeNetwork, type NodeNetwork } from './network.js';
import { nodePaths, nodeRunDir, type NodePaths } from './node-paths.js';
import type { Pki } from './pki.js';
import { mirroredRegistries, writeHostsTomls } from './registry.js';

/** What this machine offers a real node; the input of realNodeUnavailable. */
export interface NodeFacts {
  platform: string;
  uid: number;
  /** Commands and files that are not there. */
  missing: string[];
}

/** Host commands the real node runs (containerd and runc from Debian, the network tools, skopeo for the registry). */
export const hostCommands = [
  'containerd',
  'ctr',
  'containerd-shim-runc-v2',
  'iptables',
  'iptables-save',
  'ip6tables-save',
  'ip',
  'nft',
  'sysctl',
  'umount',
  'skopeo',
];

/** Binaries from `make cluster-build` and archives from images.sh the real node needs. */
export const cachedFiles = [
  'kubelet',
  'kube-proxy',
  'coredns',
  'registry',
  'images/pause.ref',
  'images/pause.oci.tar',
  'images/agnhost.ref',
  'images/agnhost.oci.tar',
];

/** Why this machine cannot run a real node (one line), or undefined when it can. */
export function realNodeUnavailable(facts: NodeFacts): string | undefined {
  if (facts.platform !== 'linux') return `real node needs Linux (this is ${facts.platform})`;
  if (facts.uid !== 0) return 'real node needs root (links, iptables, mounts, cgroups)';
  if (facts.missing.length > 0) return `real node needs ${facts.missing.join(', ')}`;
  return undefined;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => existsSync(join(d, command)));
}

/** Reads the facts of this machine for realNodeUnavailable. */
export function nodeFacts(binDir: string): NodeFacts {
  const missing = [
    ...hostCommands.filter((c) => !onPath(c)),
    ...[runcBinary, ...['bridge', 'host-local', 'loopback', 'portmap'].map((p) => join(cniBinDir, p))].filter(
      (f) => !existsSync(f),
    ),
    ...cachedFiles.filter((f) => !existsSync(join(binDir, f))).map((f) => join(binDir, f)),
  ];
  return { platform: process.platform, uid: process.getuid?.() ?? -1, missing };
}

/** Everything of the real node ClusterInfo carries. */
export interface RealNodeInfo {
  /** Node name. */
  name: string;
  /** Node address: kubelet, API server for pods, CoreDNS. */
  ip: string;
  /** The local registry, `127.0.0.1:<port>` (push with registry.ts's pushLocalImage). */
  registry: string;
  /** Cluster DNS server address (kubelet's clusterDNS). */
  clusterDns: string;
  clusterDomain: string;
  podCidr: string;
  serviceCidr: string;
  containerdSocket: string;
  ports: NodePorts;
  paths: NodePaths;
  /** Upstream references of the images pushed at `up` (pulled through the registry mirror). */
  images: { pause: string; agnhost: string };
}

/** Owner file in the run dir: which cluster dir holds the machine's one real node. */
function ownerFile(runDir: string): string {
  return join(runDir, 'owner');
}

/** The cluster dir that last claimed the real node, if any. */
export function realNodeOwner(runDir = nodeRunDir): string | undefined {
  try {
    return readFileSync(ownerFile(runDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Claims the real node for clusterDir (after cleanupNode). */
export function claimRealNode(clusterDir: string, runDir = nodeRunDir): void {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(ownerFile(runDir), `${clusterDir}\n`);
}

/** Inputs of writeNodeFiles. */
export interface NodeFiles {
  paths: NodePaths;
  net: NodeNetwork;
  pki: Pki;
  ports: NodePorts;
  /** API server URL the node's processes use (`https://<node ip>:<port>`). */
  server: string;
  registry: string;
  sandboxImage: string;
}

/** Writes every config, kubeconfig and CNI file of the node, and the dirs they need. */
export function writeNodeFiles(f: NodeFiles): void {
  const { paths, net, pki, ports } = f;
  const node = pki.node;
  if (!node) throw new Error('write node files: the PKI has no node certificates');
  for (const d of [
    paths.dir,
    paths.runDir,
    paths.cniConfDir,
    paths.cniIpamDir,
    paths.kubeletRoot,
    paths.podLogsDir,
    paths.registryHostsDir,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  const ca = readFileSync(pki.ca.cert, 'utf8');
  const kubeconfig = (path: string, pair: { cert: string; key: string }, user: string): void =>
    writeFileSync(
      path,
      kubeconfigYaml(f.server, ca, readFileSync(pair.cert, 'utf8'), readFileSync(pair.key, 'utf8'), user),
      { mode: 0o600 },
    );
  kubeconfig(paths.kubeletKubeconfig, node.kubeletClient, 'kubelet');
  kubeconfig(paths.kubeProxyKubeconfig, node.kubeProxy, 'kube-proxy');
  kubeconfig(paths.corednsKubeconfig, node.coredns, 'coredns');
  writeFileSync(paths.containerdConfig, containerdConfigToml(paths, f.sandboxImage));
  writeFileSync(join(paths.cniConfDir, `10-${net.cniNetwork}.conflist`), cniConflist(net, paths.cniIpamDir));
  writeHostsTomls(paths.registryHostsDir, mirroredRegistries, f.registry);
  writeFileSync(paths.kubeletConfig, kubeletConfigYaml(paths, node, pki.ca.cert, net, ports));
  writeFileSync(paths.resolvConf, resolvConf(net));
  writeFileSync(paths.kubeProxyConfig, kubeProxyConfigYaml(paths, net, ports));
  writeFileSync(paths.corefile, corefile(paths, net, ports.corednsReady, 'modelship-e2e'));
}

/** The scope of one cluster's real node, for leftovers() and cleanupNode. */
export function nodeScope(clusterDir: string): LeftoverScope {
  return { stateDir: clusterDir, runDir: nodeRunDir, net: nodeNetwork };
}

/**
 * Where containerd 1.6 puts a shim's socket: /run/containerd/s/<sha256(address/namespace/id)>,
 * whatever containerd's own state dir. Read from the shim's command line; undefined if it lacks
 * -address/-id.
 */
export function shimSocketPath(cmdline: string[]): string | undefined {
  const arg = (name: string): string | undefined => {
    const i = cmdline.indexOf(name);
    return i >= 0 ? cmdline[i + 1] : undefined;
  };
  const address = arg('-address');
  const id = arg('-id');
  if (!address || !id) return undefined;
  const ns = arg('-namespace') ?? 'default';
  return `/run/containerd/s/${createHash('sha256')
    .update(join(address, ns, id))
    .digest('hex')}`;
}

/** Process names (argv[0] basename) the sweep may kill when their command line names our dirs. */
export const sweptBinaries = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'registry',
  'containerd',
  'containerd-shim-runc-v2',
  'kubelet',
  'kube-proxy',
  'coredns',
];

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Every cgroup dir of kubelet's tree in every hierarchy, deepest first (the order rmdir needs). */
function kubepodsDirs(): string[] {
  const dirs: string[] = [];
  const walk = (d: string): void => {
    dirs.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  for (const h of cgroupHierarchies()) {
    const root = join(h, kubepodsCgroup);
    if (existsSync(root)) walk(root);
  }
  return dirs.sort((a, b) => b.split('/').length - a.split('/').length);
}

function cgroupPids(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch {
      // Removed meanwhile.
    }
  }
  return [...pids];
}

/**
 * Removes everything a real node of clusterDir may have left, whether `down` stopped it or it was
 * killed: processes (node processes found by our dirs in their command line, containerd shims by
 * our socket, containers by kubelet's cgroups), mounts under our dirs (lazily, deepest first),
 * links, iptables chains and kube-proxy's nftables tables, kubelet's cgroups, libcni's cache,
 * shim sockets, and the run dir. Synchronous, so exit handlers can run it; safe to run twice.
 * Returns what it found to do, for the log.
 */
export function cleanupNode(clusterDir: string): string[] {
  const scope = nodeScope(clusterDir);
  const done: string[] = [];
  // Processes: ours by binary and command line (recorded ones were stopped already; this catches
  // a killed run's and the shims, which containerd daemonizes out of our process groups).
  const ours = processesOfOurs(listProcesses(), scope).filter(
    (p) => p.pid !== process.pid && sweptBinaries.includes(basename(p.cmdline[0])),
  );
  const shimSockets = ours
    .filter((p) => basename(p.cmdline[0]) === 'containerd-shim-runc-v2')
    .map((p) => shimSocketPath(p.cmdline))
    .filter((s): s is string => s !== undefined);
  for (const p of ours) kill(p.pid);
  if (ours.length > 0) done.push(`killed ${ours.map((p) => `${basename(p.cmdline[0])}(${p.pid})`).join(' ')}`);
  // Containers: every process in kubelet's cgroups (re-parented to init once their shim died).
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(kubepodsDirs());
    if (pids.length === 0) break;
    if (i === 0) done.push(`killed ${pids.length} container processes`);
    pids.forEach(kill);
    sleepSync(100);
  }
  // Mounts: pod volumes, container rootfs and shm, netns bind mounts.
  const mounts = mountPointsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), [scope.stateDir, scope.runDir]);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // Already gone with a parent.
    }
  }
  if (mounts.length > 0) done.push(`unmounted ${mounts.length}`);
  removeNetwork(scope.net);
  // cgroups: rmdir deepest first; a dir whose last task just died can take a moment to empty.
  for (let i = 0; i < 20; i++) {
    const dirs = kubepodsDirs();
    if (dirs.length === 0) break;
    if (i === 0) done.push(`removed ${dirs.length} cgroup dirs`);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // Not empty yet; retried.
      }
    }
    sleepSync(100);
  }
  for (const f of [...cniCacheFiles(scope.runDir), ...shimSockets, ...containerLogLinks(scope.stateDir)])
    rmSync(f, { force: true });
  // kubelet creates /var/log/containers and libcni /var/lib/cni/results; nothing else on this
  // machine uses them (podman here runs netavark), so empty ones go too.
  for (const d of [containerLogLinksDir, '/var/lib/cni/results', '/var/lib/cni']) {
    try {
      rmdirSync(d);
    } catch {
      // Absent, or holds someone else's files.
    }
  }
  // The run dir only holds sockets, state and (now unmounted) netns files; never rm across a mount.
  if (mountPointsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), [scope.runDir]).length === 0) {
    rmSync(scope.runDir, { recursive: true, force: true });
  }
  return done;
}

/**
 * Removes the node's per-run state under clusterDir (containerd's images and snapshots, kubelet's
 * pods, IPAM): each `up` starts from a clean node. Only after cleanupNode (no mounts left under it).
 */
export function resetNodeDir(clusterDir: string): void {
  const paths = nodePaths(clusterDir);
  if (mountPointsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), [paths.dir]).length > 0) {
    throw new Error(`reset ${paths.dir}: mounts remain under it`);
  }
  if (existsSync(paths.dir) && statSync(paths.dir).isDirectory()) rmSync(paths.dir, { recursive: true, force: true });
}
