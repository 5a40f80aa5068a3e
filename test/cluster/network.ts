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
 * - `MODELSHIP-GUARD` (filter table, first rule of FORWARD and OUTPUT): rejects, after kube-proxy's
 *   DNAT, anything still addressed to the Service range (a ClusterIP nobody serves fails at once
 *   instead of leaving by the default route for the outside proxy's 404), and anything from or to
 *   a pod address that would leave by a link other than msbr0.
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
  /** Our iptables chain. */
  guardChain: string;
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
  guardChain: 'MODELSHIP-GUARD',
  cniNetwork: 'modelship',
};

/** One command: argv, and whether its failure is expected when the object is already there/gone. */
export interface NetCommand {
  argv: string[];
  /** True for teardown steps (the object may be absent) — failures are ignored. */
  ignoreFailure?: boolean;
}

/** The guard chain's rules (without `-A <chain>`), in order. */
export function guardRules(net: NodeNetwork = nodeNetwork): string[][] {
  return [
    ['-o', 'lo', '-j', 'RETURN'],
    // Filter runs after nat's DNAT: a ClusterIP with endpoints is a pod address by now.
    ['-d', net.serviceCidr, '-j', 'REJECT'],
    ['-s', net.podCidr, '!', '-o', net.bridge, '-j', 'REJECT'],
    ['-d', net.podCidr, '!', '-o', net.bridge, '-j', 'REJECT'],
  ];
}

/** Builtin filter chains that jump to the guard first. */
export const guardHooks = ['FORWARD', 'OUTPUT'];

/**
 * Commands that create the node network, in order. The guard comes first, so no packet of a pod
 * can ever be forwarded before it is in place.
 */
export function networkUpCommands(net: NodeNetwork = nodeNetwork): NetCommand[] {
  const ipt = (...args: string[]): NetCommand => ({ argv: ['iptables', '-w', '5', ...args] });
  const ip = (...args: string[]): NetCommand => ({ argv: ['ip', ...args] });
  return [
    ipt('-N', net.guardChain),
    ...guardRules(net).map((r) => ipt('-A', net.guardChain, ...r)),
    ...guardHooks.map((hook) => ipt('-I', hook, '1', '-j', net.guardChain)),
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
    ...guardHooks.map((hook) => gone('iptables', '-w', '5', '-D', hook, '-j', net.guardChain)),
    gone('iptables', '-w', '5', '-F', net.guardChain),
    gone('iptables', '-w', '5', '-X', net.guardChain),
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
 * `CNI-DN-*` (podman on this machine uses netavark's `NETAVARK_*` instead), and the guard.
 */
export function isOurChain(name: string, net: NodeNetwork = nodeNetwork): boolean {
  return name.startsWith('KUBE-') || name.startsWith('CNI-HOSTPORT-') || name.startsWith('CNI-DN-') || name === net.guardChain;
}

/**
 * Commands deleting every chain of ours (see isOurChain) from an `iptables-save` (or ip6tables-save)
 * dump: first the rules of other chains that jump to them, then flush and delete them. kube-proxy
 * --cleanup removes its own; kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY and any kube-proxy left
 * after a kill are caught here.
 */
export function chainCleanupCommands(saveOutput: string, binary: 'iptables' | 'ip6tables', net: NodeNetwork = nodeNetwork): NetCommand[] {
  const jumps: NetCommand[] = [];
  const chains: NetCommand[] = [];
  const flushes: NetCommand[] = [];
  let table = '';
  for (const line of saveOutput.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (isOurChain(name, net)) {
        flushes.push({ argv: [binary, '-w', '5', '-t', table, '-F', name], ignoreFailure: true });
        chains.push({ argv: [binary, '-w', '5', '-t', table, '-X', name], ignoreFailure: true });
      }
    } else if (line.startsWith('-A ')) {
      const args = splitRule(line);
      const chain = args[1];
      const jIndex = args.findIndex((a) => a === '-j' || a === '-g');
      const target = jIndex >= 0 ? args[jIndex + 1] : undefined;
      if (!isOurChain(chain, net) && target !== undefined && isOurChain(target, net)) {
        jumps.push({ argv: [binary, '-w', '5', '-t', table, '-D', ...args.slice(1)], ignoreFailure: true });
      }
    }
  }
  return [...jumps, ...flushes, ...chains];
}

/** kube-proxy's nftables tables (its nftables mode keeps every rule in these two). */
export const kubeProxyNftTables = [['ip', 'kube-proxy'], ['ip6', 'kube-proxy']];

/** Commands deleting kube-proxy's nftables tables (absent ones are fine). */
export function nftCleanupCommands(): NetCommand[] {
  return kubeProxyNftTables.map(([family, name]) => ({ argv: ['nft', 'delete', 'table', family, name], ignoreFailure: true }));
}

/** Runs commands in order; a failure of a command not marked ignoreFailure throws, naming it. */
export function runCommands(commands: NetCommand[], what: string): void {
  for (const c of commands) {
    try {
      execFileSync(c.argv[0], c.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Creates the node network (links, addresses, routes, guard). Call removeNetwork first after a crash. */
export function applyNetwork(net: NodeNetwork = nodeNetwork): void {
  runCommands(networkUpCommands(net), 'set up the node network');
}

/** Removes the node network and every iptables chain of ours; safe when (part of) it is already gone. */
export function removeNetwork(net: NodeNetwork = nodeNetwork): void {
  const veths = vethsOnBridge(commandOutput(['ip', '-o', 'link', 'show']), net.bridge);
  runCommands(networkDownCommands(net, veths), 'remove the node network');
  runCommands(nftCleanupCommands(), 'remove kube-proxy nftables tables');
  for (const binary of ['iptables', 'ip6tables'] as const) {
    runCommands(chainCleanupCommands(commandOutput([`${binary}-save`]), binary, net), `remove our ${binary} chains`);
  }
}
