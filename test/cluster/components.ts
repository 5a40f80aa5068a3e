/**
 * Pure description of the control plane: which binary runs with which flags, given the ports and
 * file paths of one cluster. No I/O here, so the command lines can be read and reviewed in one place.
 */
import { join } from 'node:path';

import type { Pki } from './pki.js';

/** The loopback ports one cluster listens on; all chosen free at `up`. */
export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/** Files of one cluster instance, all under its state directory. */
export interface ClusterPaths {
  dir: string;
  dataDir: string;
  logsDir: string;
  auditLog: string;
  auditPolicy: string;
  adminKubeconfig: string;
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
  kwokKubeconfig: string;
  kwokStages: string;
}

/** Names of the processes a cluster runs (the last five only with a real node). */
export type ComponentName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kwok'
  | 'registry'
  | 'containerd'
  | 'kubelet'
  | 'kube-proxy'
  | 'coredns';

/** One process of the cluster: its name, binary and arguments, and where it logs. */
export interface ComponentSpec {
  name: ComponentName;
  bin: string;
  args: string[];
  log: string;
}

/**
 * What the control plane needs to know of a real node: its address. With one, the API server binds
 * and advertises there (pods reach it; the `kubernetes` Service gets it as endpoint through the lease
 * reconciler), calls kubelets with its own client cert, and kube-controller-manager also runs the
 * node-lifecycle controller; kwok is not started.
 */
export interface RealNodeControlPlane {
  nodeIp: string;
}

/** Controllers run by kube-controller-manager: the workload, GC, RBAC and service-account ones tests rely on. */
export const controllers = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'job-controller',
  'cronjob-controller',
  'ttl-after-finished-controller',
  'replicationcontroller-controller',
  'garbage-collector-controller',
  'pod-garbage-collector-controller',
  'horizontal-pod-autoscaler-controller',
  'disruption-controller',
  'namespace-controller',
  'resourcequota-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
];

/** Service IP range of the cluster (the API server's `kubernetes` Service gets its first address). */
export const serviceClusterIpRange = '10.96.0.0/16';

/** Audit policy: Metadata for every write, nothing for reads, so tests can count writes per user. */
export const auditPolicyYaml = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

/** The file layout of a cluster rooted at dir. */
export function clusterPaths(dir: string): ClusterPaths {
  const logsDir = join(dir, 'logs');
  return {
    dir,
    dataDir: join(dir, 'etcd'),
    logsDir,
    auditLog: join(logsDir, 'audit.log'),
    auditPolicy: join(dir, 'audit-policy.yaml'),
    adminKubeconfig: join(dir, 'kubeconfig'),
    controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
    kwokKubeconfig: join(dir, 'kwok.kubeconfig'),
    kwokStages: join(dir, 'kwok-stages.yaml'),
  };
}

/**
 * Controllers run with a real node: the node-lifecycle controller sets and lifts the not-ready taint
 * and marks the node NotReady when kubelet stops reporting. Without a real node it stays off: it
 * would also evict kwok's pods whenever a fake heartbeat is late on a loaded machine.
 */
export const realNodeControllers = [...controllers, 'node-lifecycle-controller'];

/**
 * Command lines for every control-plane component, in start order (etcd first, kwok last; no kwok with a real node).
 */
export function componentSpecs(
  binDir: string,
  ports: ClusterPorts,
  paths: ClusterPaths,
  pki: Pki,
  realNode?: RealNodeControlPlane,
): ComponentSpec[] {
  const bin = (name: string): string => join(binDir, name);
  const log = (name: string): string => join(paths.logsDir, `${name}.log`);
  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  const secureServing = (kubeconfig: string, port: number): string[] => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(paths.dir, 'serving')}`,
    '--leader-elect=false',
  ];
  const specs: ComponentSpec[] = [
    {
      name: 'etcd',
      bin: bin('etcd'),
      log: log('etcd'),
      args: [
        '--name=modelship',
        `--data-dir=${paths.dataDir}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=modelship=${peerUrl}`,
        '--initial-cluster-state=new',
        // Throwaway test data: skipping fsync keeps etcd from stalling on a shared, loaded disk.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
    },
    {
      name: 'kube-apiserver',
      bin: bin('kube-apiserver'),
      log: log('kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${realNode?.nodeIp ?? '127.0.0.1'}`,
        `--advertise-address=${realNode?.nodeIp ?? '127.0.0.1'}`,
        `--secure-port=${ports.apiServer}`,
        `--cert-dir=${join(paths.dir, 'serving')}`,
        `--tls-cert-file=${pki.apiServer.cert}`,
        `--tls-private-key-file=${pki.apiServer.key}`,
        `--client-ca-file=${pki.ca.cert}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-cluster-ip-range=${serviceClusterIpRange}`,
        ...(realNode && pki.node
          ? [
              // Pods dial the API server through the `kubernetes` Service; its endpoint is the node address.
              '--endpoint-reconciler-type=lease',
              `--kubelet-client-certificate=${pki.node.apiServerKubeletClient.cert}`,
              `--kubelet-client-key=${pki.node.apiServerKubeletClient.key}`,
              `--kubelet-certificate-authority=${pki.ca.cert}`,
              '--kubelet-preferred-address-types=InternalIP',
            ]
          : // A loopback address is not a valid Endpoints IP, and nothing in the cluster dials the API server
            // by Service.
            ['--endpoint-reconciler-type=none']),
        `--audit-policy-file=${paths.auditPolicy}`,
        `--audit-log-path=${paths.auditLog}`,
        '--audit-log-format=json',
        '--audit-log-maxsize=0',
        '--profiling=false',
        '--v=1',
      ],
    },
    {
      name: 'kube-controller-manager',
      bin: bin('kube-controller-manager'),
      log: log('kube-controller-manager'),
      args: [
        ...secureServing(paths.controllerManagerKubeconfig, ports.controllerManager),
        `--controllers=${(realNode ? realNodeControllers : controllers).join(',')}`,
        // Each controller acts as its own ServiceAccount, so RBAC is exercised as in a real cluster.
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.ca.cert}`,
        `--service-cluster-ip-range=${serviceClusterIpRange}`,
        '--profiling=false',
        '--v=1',
      ],
    },
    {
      name: 'kube-scheduler',
      bin: bin('kube-scheduler'),
      log: log('kube-scheduler'),
      args: [...secureServing(paths.schedulerKubeconfig, ports.scheduler), '--profiling=false', '--v=1'],
    },
  ];
  if (realNode) return specs;
  return [
    ...specs,
    {
      name: 'kwok',
      bin: bin('kwok'),
      log: log('kwok'),
      args: [
        `--kubeconfig=${paths.kwokKubeconfig}`,
        `--config=${paths.kwokStages}`,
        `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
        `--server-address=127.0.0.1:${ports.kwok}`,
        '--node-ip=127.0.0.1',
        '--cidr=10.244.0.1/16',
      ],
    },
  ];
}

/** Annotation that marks a Node as one kwok plays the kubelet for. */
export const kwokNodeAnnotation = 'kwok.x-k8s.io/node';

/** The fake Node objects kwok manages: roomy enough for many test pods, untainted so pods need no toleration. */
export function fakeNode(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
        containerRuntimeVersion: 'fake',
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}

/** A kubeconfig (YAML) for one identity, with the CA and client cert embedded so it works from any cwd. */
export function kubeconfigYaml(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
  - name: modelship-e2e
    cluster:
      server: ${server}
      certificate-authority-data: ${b64(caPem)}
users:
  - name: ${user}
    user:
      client-certificate-data: ${b64(certPem)}
      client-key-data: ${b64(keyPem)}
contexts:
  - name: modelship-e2e
    context:
      cluster: modelship-e2e
      user: ${user}
current-context: modelship-e2e
`;
}
