/**
 * kube-proxy of the real node: config and command line (pure).
 *
 * nftables mode: every rule lives in two tables of its own (`ip kube-proxy`, `ip6 kube-proxy`), so
 * teardown is two deletes and the leftovers check two lookups; unlike iptables mode it never sets
 * route_localnet (no localhost NodePorts); and it rejects packets to unallocated ClusterIPs itself.
 */
import type { NodeNetwork } from './network.js';
import type { NodePaths } from './node-paths.js';
import type { NodePorts } from './kubelet.js';
import { realNodeName } from './kubelet.js';

/**
 * KubeProxyConfiguration. conntrack limits and timeouts are 0 ("leave the kernel's values"): they
 * are machine-wide sysctls shared with everything else here. NodePorts answer on the node address only.
 */
export function kubeProxyConfigYaml(paths: NodePaths, net: NodeNetwork, ports: NodePorts): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: ${paths.kubeProxyKubeconfig}
hostnameOverride: ${realNodeName}
bindAddress: ${net.nodeIp}
clusterCIDR: ${net.podCidr}
healthzBindAddress: 127.0.0.1:${ports.kubeProxyHealthz}
metricsBindAddress: 127.0.0.1:${ports.kubeProxyMetrics}
nodePortAddresses:
  - ${net.nodeIp}/32
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** kube-proxy's command line. */
export function kubeProxyArgs(paths: NodePaths): string[] {
  return [`--config=${paths.kubeProxyConfig}`, '--v=1'];
}
