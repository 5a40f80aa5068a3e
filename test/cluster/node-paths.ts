/**
 * Where the real node keeps its files. Configs, images, kubelet's pods and logs live under the
 * cluster state dir (`<dir>/node`); sockets, containerd's state, runc's state and network
 * namespaces live under one run dir, /run/modelship-node (short socket paths; one real node per
 * machine, like the link names in network.ts). Nothing goes to /var/lib/containerd,
 * /var/lib/kubelet, /var/log/pods, /run/containerd/containerd.sock or /etc.
 */
import { join } from 'node:path';

/** The real node's run dir: sockets and runtime state (fixed, like the link names). */
export const nodeRunDir = '/run/modelship-node';

/** Files and dirs of the real node of the cluster rooted at dir. */
export interface NodePaths {
  /** `<dir>/node`: everything persistent of the node. */
  dir: string;
  runDir: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  runcRoot: string;
  /** containerd's registry config_path: one `<host>/hosts.toml` per mirrored registry. */
  registryHostsDir: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  podLogsDir: string;
  resolvConf: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  corefile: string;
  corednsKubeconfig: string;
}

/** The node layout of the cluster rooted at clusterDir. */
export function nodePaths(clusterDir: string, runDir = nodeRunDir): NodePaths {
  const dir = join(clusterDir, 'node');
  return {
    dir,
    runDir,
    containerdConfig: join(dir, 'containerd.toml'),
    containerdRoot: join(dir, 'containerd'),
    containerdState: join(runDir, 'containerd'),
    containerdSocket: join(runDir, 'containerd.sock'),
    runcRoot: join(runDir, 'runc'),
    registryHostsDir: join(dir, 'registry-hosts'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniIpamDir: join(dir, 'cni', 'ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet.yaml'),
    kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
    podLogsDir: join(dir, 'pod-logs'),
    resolvConf: join(dir, 'resolv.conf'),
    kubeProxyConfig: join(dir, 'kube-proxy.yaml'),
    kubeProxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
    corefile: join(dir, 'Corefile'),
    corednsKubeconfig: join(dir, 'coredns.kubeconfig'),
  };
}
