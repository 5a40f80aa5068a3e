/**
 * What a real node can leave on the machine, found from a snapshot of the host: processes,
 * mounts, links, iptables chains, nftables tables, cgroups, network namespaces and CNI cache files.
 * The judging is pure (findLeftovers and its parsers, table-tested in leftovers.test.ts);
 * snapshotHost reads the machine. `down` must leave findLeftovers empty; node.ts's teardown uses
 * the same parsers to know what to remove.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { commandOutput, isOurChain, ourNftTableNames, vethsOnBridge, type NodeNetwork } from './network.js';

/** Everything of the host the leftovers check looks at. */
export interface HostSnapshot {
  processes: { pid: number; cmdline: string[] }[];
  /** /proc/self/mountinfo. */
  mountinfo: string;
  /** `ip -o link show`. */
  links: string;
  iptablesSave: string;
  ip6tablesSave: string;
  /** `nft list tables`. */
  nftTables: string;
  /** Existing cgroup dirs named by kubelet (`<hierarchy>/kubepods`). */
  cgroupDirs: string[];
  /** Other existing files of ours: network namespaces, CNI cache entries, the run dir. */
  files: string[];
}

/** What counts as ours: paths under these dirs, and the fixed network names. */
export interface LeftoverScope {
  /** The cluster state dir (`.state/cluster-node`). */
  stateDir: string;
  /** The node's run dir (/run/modelship-node). */
  runDir: string;
  net: NodeNetwork;
}

const under = (path: string, dir: string): boolean =>
  path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** Unescapes mountinfo's octal escapes (`\040` for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points under any of dirs, from mountinfo, deepest (and latest) first: the order to unmount them. */
export function mountPointsUnder(mountinfo: string, dirs: string[]): string[] {
  const points = mountinfo
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => unescapeMount(l.split(' ')[4] ?? ''))
    .filter((p) => dirs.some((d) => under(p, d)));
  return [...new Set(points.reverse())].sort((a, b) => b.split('/').length - a.split('/').length);
}

/**
 * Processes of ours: any whose command line names the state dir or run dir (control plane, node
 * processes, and containerd shims, whose `-address` is our socket).
 */
export function processesOfOurs(
  processes: HostSnapshot['processes'],
  scope: Pick<LeftoverScope, 'stateDir' | 'runDir'>,
): HostSnapshot['processes'] {
  const stateDir = scope.stateDir.endsWith('/') ? scope.stateDir : `${scope.stateDir}/`;
  return processes.filter((p) =>
    p.cmdline.some((a) => a.includes(stateDir) || a === scope.runDir || a.includes(`${scope.runDir}/`)),
  );
}

/** Our chains in an iptables-save dump, as `<table>/<chain>`. */
export function ourChains(saveOutput: string): string[] {
  const found: string[] = [];
  let table = '';
  for (const line of saveOutput.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (isOurChain(name)) found.push(`${table}/${name}`);
    }
  }
  return found;
}

/** Our nftables tables (kube-proxy's, the guard) present in `nft list tables` output. */
export function ourNftTables(nftTables: string, net: NodeNetwork): string[] {
  const present = new Set(nftTables.split('\n').map((l) => l.trim()));
  return ourNftTableNames(net)
    .map(([family, name]) => `table ${family} ${name}`)
    .filter((t) => present.has(t));
}

/** Links of ours: the two bridges and any veth still on the pod bridge. */
export function ourLinks(ipLinkOutput: string, net: NodeNetwork): string[] {
  const names = ipLinkOutput
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  return [...names.filter((n) => n === net.bridge || n === net.nodeLink), ...vethsOnBridge(ipLinkOutput, net.bridge)];
}

/** Everything of ours left on the host, one human-readable line each; empty when clean. */
export function findLeftovers(snapshot: HostSnapshot, scope: LeftoverScope): string[] {
  const dirs = [scope.stateDir, scope.runDir];
  return [
    ...processesOfOurs(snapshot.processes, scope).map((p) => `process ${p.pid}: ${p.cmdline.join(' ').slice(0, 200)}`),
    ...mountPointsUnder(snapshot.mountinfo, dirs).map((m) => `mount ${m}`),
    ...ourLinks(snapshot.links, scope.net).map((l) => `link ${l}`),
    ...ourChains(snapshot.iptablesSave).map((c) => `iptables chain ${c}`),
    ...ourChains(snapshot.ip6tablesSave).map((c) => `ip6tables chain ${c}`),
    ...ourNftTables(snapshot.nftTables, scope.net).map((t) => `nftables ${t}`),
    ...snapshot.cgroupDirs.map((d) => `cgroup ${d}`),
    ...snapshot.files.map((f) => `file ${f}`),
  ];
}

/** cgroup v1 hierarchies (and the unified one) under /sys/fs/cgroup. */
export function cgroupHierarchies(root = '/sys/fs/cgroup'): string[] {
  try {
    return readdirSync(root)
      .map((d) => join(root, d))
      .filter((d) => statSync(d).isDirectory());
  } catch {
    return [];
  }
}

/** kubelet's cgroup name under cgroupfs with cgroupRoot `/`. */
export const kubepodsCgroup = 'kubepods';

/**
 * True for a libcni cache entry of one of our pods: its result names a sandbox (netns) under our
 * run dir. Both our network's entries and containerd's `cni-loopback-*` ones (which it never
 * deletes) carry it.
 */
export function isOurCniCache(content: string, runDir: string): boolean {
  return content.includes(`"sandbox":"${runDir}/`);
}

/** libcni's cache entries of our pods (containerd 1.6 keeps them in /var/lib/cni/results). */
export function cniCacheFiles(runDir: string, dir = '/var/lib/cni/results'): string[] {
  try {
    return readdirSync(dir)
      .map((f) => join(dir, f))
      .filter((f) => {
        try {
          return isOurCniCache(readFileSync(f, 'utf8'), runDir);
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** Where kubelet links every container's log (a fixed path in kubelet, whatever its root dir). */
export const containerLogLinksDir = '/var/log/containers';

/** kubelet's links in /var/log/containers that point into stateDir (our pods' logs). */
export function containerLogLinks(stateDir: string, dir = containerLogLinksDir): string[] {
  try {
    return readdirSync(dir)
      .map((f) => join(dir, f))
      .filter((f) => {
        try {
          return under(readlinkSync(f), stateDir);
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** Every process on the machine with its command line (processes that vanish meanwhile are skipped). */
export function listProcesses(): HostSnapshot['processes'] {
  const out: HostSnapshot['processes'] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
      if (cmdline.length > 0) out.push({ pid: Number(entry), cmdline });
    } catch {
      // Exited while listing.
    }
  }
  return out;
}

/** Reads the host: the input of findLeftovers. */
export function snapshotHost(scope: LeftoverScope): HostSnapshot {
  const files = [...cniCacheFiles(scope.runDir), ...containerLogLinks(scope.stateDir)];
  if (existsSync(scope.runDir)) files.push(scope.runDir);
  return {
    processes: listProcesses().filter((p) => p.pid !== process.pid),
    mountinfo: readFileSync('/proc/self/mountinfo', 'utf8'),
    links: commandOutput(['ip', '-o', 'link', 'show']),
    iptablesSave: commandOutput(['iptables-save']),
    ip6tablesSave: commandOutput(['ip6tables-save']),
    nftTables: commandOutput(['nft', 'list', 'tables']),
    cgroupDirs: cgroupHierarchies()
      .map((h) => join(h, kubepodsCgroup))
      .filter((d) => existsSync(d)),
    files,
  };
}

/** Everything of the real node of scope still on this machine (empty when `down` left it clean). */
export function leftovers(scope: LeftoverScope): string[] {
  return findLeftovers(snapshotHost(scope), scope);
}
