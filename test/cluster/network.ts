/**
 * The real node's host networking: the links, addresses, routes and the one iptables chain of our
 * own that keep every pod and Service packet on this machine. The command lists are pure (table
 * tested in network.test.ts); applyNetwork/removeNetwork only run them.
 *
 * Layout (fixed names: one real-node cluster per machine):
 * - `msnode0`: a port-less bridge holding the node address (10.200.0.1/32) and the route of the
 *   whole Service range. This kernel has no `dummy` driver; a bridge without ports is up, takes
 *   addresses and routes, and sends nothing anywhere, which is all a dummy link would do here.
 * - `msbr0`: the pods' bridge, 10.244.0.1/24; the CNI bridge plugin only attaches veths to it.
 *   Forwarding is enabled on this link alone (pod → ClusterIP → pod is routed once DNATed), so the
 *   machine-wide `net.ipv4.ip_forward` is never touched.
 * - nftables table `ip modelship-guard` (see guardChains): rejects anything still addressed to the
 *   Service range after DNAT (a ClusterIP nobody serves fails at once instead of leaving by the
 *   default route for the outside proxy's 404), and anything from or to a pod address that would
 *   leave by a link other than msbr0. Not an iptables chain: iptables(-nft)'s filter chains sit at priority 0, the same
 *   as kube-proxy's nftables chain that silently *drops* unallocated ClusterIPs, and which of two
 *   equal-priority hooks runs first is not ours to choose — a drop there means a 3 s timeout
 *   instead of an immediate refusal. Its own table also makes teardown one delete.
 */
import { execFileSync } from 'node:child_process';

/** Addresses, ranges and names of the real node's network. */
export interface NodeNetwork {
  /** Link holding the node address and the Service route. */
  nodeLink: string;
  /** The node's address: kubelet, API server (for pods), CoreDNS. */
  nodeIp: string;
  /** The pods' bridge. */
  bridge: string;
  /** Pod range (one node, so the cluster's pod range too). */
  podCidr: string;
  /** The bridge's address: the pods' default gateway. */
  podGateway: string;
  /** Service ClusterIP range (the API server's --service-cluster-ip-range). */
  serviceCidr: string;
  /** Our nftables table (family ip). */
  guardTable: string;
  /** CNI network name (also names the IPAM and libcni cache entries). */
  cniNetwork: string;
}

/**
 * The real node's network. 10.200.0.0/16, 10.244.0.0/24 and 10.96.0.0/16 are off podman's
 * 10.88.0.0/16 and eth0's 192.0.2.0/24; each is routed onto one of our links while we run.
 */
export const nodeNetwork: NodeNetwork = {
  nodeLink: 'msnode0',
  nodeIp: '10.200.0.1',
  bridge: 'msbr0',
  podCidr: '10.244.0.0/24',
  podGateway: '10.244.0.1',
  serviceCidr: '10.96.0.0/16',
  guardTable: 'modelship-guard',
  cniNetwork: 'modelship',
};

/** One command: argv, and whether its failure is expected when the object is already there/gone. */
export interface NetCommand {
  argv: string[];
  /** Fed to the command's standard input. */
  stdin?: string;
  /** True for teardown steps (the object may be absent) — failures are ignored. */
  ignoreFailure?: boolean;
}

/** One base chain of the guard table. */
export interface GuardChain {
  hook: 'output' | 'forward' | 'postrouting';
  priority: number;
  rules: string[];
}

/**
 * The guard's chains. A locally sent packet keeps, in the output hook, the link of its route before
 * DNAT (msnode0 for a ClusterIP even once it is DNATed to a pod), so the link checks live in
 * forward (pod traffic, routed after DNAT) and postrouting (everything, on its final link; reject
 * is not allowed there, so drop); output only refuses what DNAT left addressed to the Service range.
 */
export function guardChains(net: NodeNetwork = nodeNetwork): GuardChain[] {
  const offBridge = [
    `ip saddr ${net.podCidr} oifname != "${net.bridge}"`,
    `ip daddr ${net.podCidr} oifname != "${net.bridge}"`,
  ];
  return [
    // -5: after DNAT (-100), before every filter chain (0) — kube-proxy's drop of unallocated ClusterIPs among them.
    { hook: 'output', priority: -5, rules: [`ip daddr ${net.serviceCidr} reject`] },
    {
      hook: 'forward',
      priority: -5,
      rules: [`ip daddr ${net.serviceCidr} reject`, ...offBridge.map((r) => `${r} reject`)],
    },
    // 95: before SNAT (100), so the pod address is still the source.
    {
      hook: 'postrouting',
      priority: 95,
      rules: ['oifname "lo" accept', `ip daddr ${net.serviceCidr} drop`, ...offBridge.map((r) => `${r} drop`)],
    },
  ];
}

/** The guard's nftables script (`nft -f -`): one table, replaced atomically if it exists. */
export function guardNftScript(net: NodeNetwork = nodeNetwork): string {
  const chains = guardChains(net).map(
    (c) => `  chain ${c.hook} {
    type filter hook ${c.hook} priority ${c.priority}; policy accept;
${c.rules.map((r) => `    ${r}`).join('\n')}
  }`,
  );
  return `table ip ${net.guardTable}
delete table ip ${net.guardTable}
table ip ${net.guardTable} {
${chains.join('\n')}
}
`;
}

/**
 * Commands that create the node network, in order. The guard comes first, so no packet of a pod
 * can ever be forwarded before it is in place.
 */
export function networkUpCommands(net: NodeNetwork = nodeNetwork): NetCommand[] {
  const ip = (...args: string[]): NetCommand => ({ argv: ['ip', ...args] });
  return [
    { argv: ['nft', '-f', '-'], stdin: guardNftScript(net) },
    ip('link', 'add', net.nodeLink, 'type', 'bridge'),
    ip('addr', 'add', `${net.nodeIp}/32`, 'dev', net.nodeLink),
    ip('link', 'set', net.nodeLink, 'up'),
    ip('route', 'add', net.serviceCidr, 'dev', net.nodeLink, 'src', net.nodeIp),
    ip('link', 'add', net.bridge, 'type', 'bridge'),
    ip('addr', 'add', `${net.podGateway}/${net.podCidr.split('/')[1]}`, 'dev', net.bridge),
    ip('link', 'set', net.bridge, 'up'),
    { argv: ['sysctl', '-q', '-w', `net.ipv4.conf.${net.bridge}.forwarding=1`] },
  ];
}

/**
 * Commands that remove the node network; every one may find its object gone (down twice, or a
 * half-made network). veths still on the bridge are listed by the caller (see vethsOnBridge).
 */
export function networkDownCommands(net: NodeNetwork = nodeNetwork, veths: string[] = []): NetCommand[] {
  const gone = (...argv: string[]): NetCommand => ({ argv, ignoreFailure: true });
  return [
    ...veths.map((v) => gone('ip', 'link', 'del', v)),
    gone('ip', 'link', 'del', net.bridge),
    gone('ip', 'link', 'del', net.nodeLink),
    gone('nft', 'delete', 'table', 'ip', net.guardTable),
  ];
}

/** Names of the links whose master is bridge, from `ip -o link show` output. */
export function vethsOnBridge(ipLinkOutput: string, bridge: string): string[] {
  const names: string[] = [];
  for (const line of ipLinkOutput.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:.*\smaster\s+(\S+)/.exec(line);
    if (m && m[2] === bridge) names.push(m[1]);
  }
  return names;
}

/**
 * Splits one `iptables-save` rule line into arguments, honouring its double quotes
 * (`--comment "a b"`) and backslash escapes inside them.
 */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * Chains that count as ours: kubelet's and kube-proxy's `KUBE-*`, CNI portmap's `CNI-HOSTPORT-*` /
 * `CNI-DN-*` (podman on this machine uses netavark's `NETAVARK_*` instead).
 */
export function isOurChain(name: string): boolean {
  return name.startsWith('KUBE-') || name.startsWith('CNI-HOSTPORT-') || name.startsWith('CNI-DN-');
}

/**
 * Commands deleting every chain of ours (see isOurChain) from an `iptables-save` (or ip6tables-save)
 * dump: first the rules of other chains that jump to them, then flush and delete them. kube-proxy
 * --cleanup removes its own; kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY and any kube-proxy left
 * after a kill are caught here.
 */
export function chainCleanupCommands(saveOutput: string, binary: 'iptables' | 'ip6tables'): NetCommand[] {
  const jumps: NetCommand[] = [];
  const chains: NetCommand[] = [];
  const flushes: NetCommand[] = [];
  let table = '';
  for (const line of saveOutput.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (isOurChain(name)) {
        flushes.push({ argv: [binary, '-w', '5', '-t', table, '-F', name], ignoreFailure: true });
        chains.push({ argv: [binary, '-w', '5', '-t', table, '-X', name], ignoreFailure: true });
      }
    } else if (line.startsWith('-A ')) {
      const args = splitRule(line);
      const chain = args[1];
      const jIndex = args.findIndex((a) => a === '-j' || a === '-g');
      const target = jIndex >= 0 ? args[jIndex + 1] : undefined;
      if (!isOurChain(chain) && target !== undefined && isOurChain(target)) {
        jumps.push({ argv: [binary, '-w', '5', '-t', table, '-D', ...args.slice(1)], ignoreFailure: true });
      }
    }
  }
  return [...jumps, ...flushes, ...chains];
}

/** nftables tables of ours: kube-proxy's (its nftables mode keeps every rule in these two) and the guard. */
export function ourNftTableNames(net: NodeNetwork = nodeNetwork): string[][] {
  return [
    ['ip', 'kube-proxy'],
    ['ip6', 'kube-proxy'],
    ['ip', net.guardTable],
  ];
}

/** Commands deleting our nftables tables (absent ones are fine). */
export function nftCleanupCommands(net: NodeNetwork = nodeNetwork): NetCommand[] {
  return ourNftTableNames(net).map(([family, name]) => ({
    argv: ['nft', 'delete', 'table', family, name],
    ignoreFailure: true,
  }));
}

/** Runs commands in order; a failure of a command not marked ignoreFailure throws, naming it. */
export function runCommands(commands: NetCommand[], what: string): void {
  for (const c of commands) {
    try {
      execFileSync(c.argv[0], c.argv.slice(1), { input: c.stdin ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      if (c.ignoreFailure) continue;
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
      throw new Error(`${what}: ${c.argv.join(' ')}: ${stderr || (err as Error).message}`, { cause: err });
    }
  }
}

/** Output of a command, or '' when it fails or is missing. */
export function commandOutput(argv: string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

/** Creates the node network (guard, links, addresses, routes). Call removeNetwork first after a crash. */
export function applyNetwork(net: NodeNetwork = nodeNetwork): void {
  runCommands(networkUpCommands(net), 'set up the node network');
}

/** Removes the node network and every iptables chain of ours; safe when (part of) it is already gone. */
export function removeNetwork(net: NodeNetwork = nodeNetwork): void {
  const veths = vethsOnBridge(commandOutput(['ip', '-o', 'link', 'show']), net.bridge);
  runCommands(networkDownCommands(net, veths), 'remove the node network');
  runCommands(nftCleanupCommands(net), 'remove our nftables tables');
  for (const binary of ['iptables', 'ip6tables'] as const) {
    runCommands(chainCleanupCommands(commandOutput([`${binary}-save`]), binary), `remove our ${binary} chains`);
  }
}
