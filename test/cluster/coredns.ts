/**
 * Cluster DNS of the real node: CoreDNS as a host process on the node address, port 53 (pure parts).
 *
 * A host process rather than a pod behind a kube-dns ClusterIP: it is up before any pod (no
 * chicken-and-egg with the node becoming Ready and the image being pulled), it is stopped and
 * checked like every other process of ours, and pods reach the node address directly. It answers
 * cluster.local from the API (its own client cert, RBAC below) and REFUSED for every other name:
 * nothing is forwarded outside.
 */
import { clusterDomain } from './kubelet.js';
import type { NodeNetwork } from './network.js';
import type { NodePaths } from './node-paths.js';

/** The user CoreDNS authenticates as (client cert CN). */
export const corednsUser = 'system:coredns';

/**
 * Corefile: cluster.local from the API, readiness on loopback, and no other zone: CoreDNS answers
 * REFUSED for a name outside every zone it serves, so nothing is forwarded or made up.
 */
export function corefile(paths: NodePaths, net: NodeNetwork, readyPort: number, kubeconfigContext: string): string {
  return `${clusterDomain}:53 {
    bind ${net.nodeIp}
    errors
    kubernetes ${clusterDomain} {
        kubeconfig ${paths.corednsKubeconfig} ${kubeconfigContext}
        pods insecure
        ttl 5
    }
    ready 127.0.0.1:${readyPort}
}
`;
}

/** CoreDNS's command line. */
export function corednsArgs(paths: NodePaths): string[] {
  return ['-conf', paths.corefile];
}

/** RBAC for CoreDNS's kubernetes plugin (what kubeadm grants system:coredns). */
export function corednsRbac(): object[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'modelship:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'modelship:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'modelship:coredns' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: corednsUser }],
    },
  ];
}
