/**
 * kubelet of the real node: its config file and command line, and the resolv.conf it hands to pods.
 * Pure renderers; node.ts writes them.
 */
import type { NodeNetwork } from './network.js';
import type { NodePaths } from './node-paths.js';
import type { NodePki } from './pki.js';

/** Name of the real node (kubelet's --hostname-override, the Node object, its client cert CN). */
export const realNodeName = 'modelship-node';

/** Cluster DNS domain (CoreDNS's zone, kubelet's clusterDomain). */
export const clusterDomain = 'cluster.local';

/** Loopback ports of the node's processes, picked free at `up` like the control plane's. */
export interface NodePorts {
  /** kubelet's API (on the node address: the API server dials it for logs/exec). */
  kubelet: number;
  kubeletHealthz: number;
  kubeProxyHealthz: number;
  kubeProxyMetrics: number;
  corednsReady: number;
  registry: number;
}

/**
 * KubeletConfiguration. Why each setting:
 * - cgroupfs + failCgroupV1=false: this host runs cgroup v1 without systemd;
 * - anonymous off, x509 client CA + webhook authn, Webhook authz: the API server reaches logs/exec
 *   with its kubelet-client cert, checked by SubjectAccessReview; anyone else gets 401/403;
 * - serving cert from our CA with the node IP SAN: the API server verifies it (--kubelet-certificate-authority);
 * - readOnlyPort 0, healthz on loopback;
 * - evictionHard at 1%: the disk is shared and far fuller than 10% would allow — tests must never
 *   see evictions; imageGC at 100% is off for the same reason (images are few and small);
 * - failSwapOn false; resolvConf is our file (no outside nameservers for pods);
 * - podLogsDir, volumePluginDir (and --root-dir) under our state: nothing in /var/lib/kubelet or /var/log/pods.
 */
export function kubeletConfigYaml(
  paths: NodePaths,
  pki: NodePki,
  caCert: string,
  net: NodeNetwork,
  ports: NodePorts,
): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${net.nodeIp}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.kubeletHealthz}
tlsCertFile: ${pki.kubeletServing.cert}
tlsPrivateKeyFile: ${pki.kubeletServing.key}
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${caCert}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://${paths.containerdSocket}
clusterDNS:
  - ${net.nodeIp}
clusterDomain: ${clusterDomain}
resolvConf: ${paths.resolvConf}
failSwapOn: false
podCIDR: ${net.podCidr}
maxPods: 110
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
podLogsDir: ${paths.podLogsDir}
volumePluginDir: ${paths.kubeletRoot}/volume-plugins
staticPodPath: ""
nodeStatusReportFrequency: 10s
`;
}

/** kubelet's command line (what the config file cannot say). */
export function kubeletArgs(paths: NodePaths, net: NodeNetwork): string[] {
  return [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${paths.kubeletKubeconfig}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--hostname-override=${realNodeName}`,
    `--node-ip=${net.nodeIp}`,
    '--node-labels=modelship.dev/node=real',
    '--v=1',
  ];
}

/** The resolv.conf pods with dnsPolicy Default get, and the base of ClusterFirst ones: only our CoreDNS. */
export function resolvConf(net: NodeNetwork): string {
  return `nameserver ${net.nodeIp}\noptions ndots:5\n`;
}
