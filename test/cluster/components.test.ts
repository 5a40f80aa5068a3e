import {
  clusterPaths,
  componentSpecs,
  controllers,
  fakeNode,
  kwokNodeAnnotation,
  realNodeControllers,
  type ClusterPorts,
} from './components.js';
import type { Pki } from './pki.js';

const ports: ClusterPorts = {
  etcdClient: 1001,
  etcdPeer: 1002,
  apiServer: 1003,
  controllerManager: 1004,
  scheduler: 1005,
  kwok: 1006,
};
const pair = (n: string): { cert: string; key: string } => ({ cert: `/pki/${n}.crt`, key: `/pki/${n}.key` });
const pki: Pki = {
  dir: '/pki',
  ca: pair('ca'),
  apiServer: pair('apiserver'),
  admin: pair('admin'),
  controllerManager: pair('cm'),
  scheduler: pair('sched'),
  kwok: pair('kwok'),
  serviceAccountKey: '/pki/sa.key',
  serviceAccountPub: '/pki/sa.pub',
};
const specs = componentSpecs('/bin', ports, clusterPaths('/state'), pki);
const flag = (name: string, key: string): string | undefined =>
  specs
    .find((s) => s.name === name)
    ?.args.find((a) => a.startsWith(`--${key}=`))
    ?.slice(key.length + 3);

describe('componentSpecs', () => {
  it('starts etcd, the API server, controller-manager, scheduler and kwok in that order, logging under logs/', () => {
    expect(specs.map((s) => s.name)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ]);
    for (const s of specs) expect(s.log).toBe(`/state/logs/${s.name}.log`);
  });

  it.each([
    ['kube-apiserver', 'bind-address', '127.0.0.1'],
    ['kube-apiserver', 'secure-port', '1003'],
    ['kube-apiserver', 'etcd-servers', 'http://127.0.0.1:1001'],
    ['kube-apiserver', 'authorization-mode', 'Node,RBAC'],
    ['kube-apiserver', 'client-ca-file', '/pki/ca.crt'],
    ['kube-apiserver', 'service-account-signing-key-file', '/pki/sa.key'],
    ['kube-apiserver', 'audit-log-path', '/state/logs/audit.log'],
    ['kube-apiserver', 'audit-policy-file', '/state/audit-policy.yaml'],
    ['kube-controller-manager', 'bind-address', '127.0.0.1'],
    ['kube-controller-manager', 'secure-port', '1004'],
    ['kube-controller-manager', 'use-service-account-credentials', 'true'],
    ['kube-scheduler', 'bind-address', '127.0.0.1'],
    ['kube-scheduler', 'secure-port', '1005'],
    ['kwok', 'server-address', '127.0.0.1:1006'],
    ['kwok', 'manage-nodes-with-annotation-selector', `${kwokNodeAnnotation}=fake`],
    ['etcd', 'listen-client-urls', 'http://127.0.0.1:1001'],
    ['etcd', 'listen-peer-urls', 'http://127.0.0.1:1002'],
  ])('%s --%s=%s', (name, key, value) => {
    expect(flag(name, key)).toBe(value);
  });

  it('runs the controllers the e2e tests rely on', () => {
    expect(flag('kube-controller-manager', 'controllers')?.split(',')).toEqual(controllers);
    for (const c of [
      'deployment-controller',
      'replicaset-controller',
      'garbage-collector-controller',
      'namespace-controller',
      'serviceaccount-controller',
      'serviceaccount-token-controller',
      'horizontal-pod-autoscaler-controller',
      'disruption-controller',
      'endpointslice-controller',
    ]) {
      expect(controllers).toContain(c);
    }
  });
});

describe('fakeNode', () => {
  it('is a kwok-managed, untainted Node with capacity for test pods', () => {
    const node = fakeNode('n1') as {
      metadata: { name: string; annotations: Record<string, string> };
      spec: { taints?: unknown };
      status: { allocatable: Record<string, string> };
    };
    expect(node.metadata.name).toBe('n1');
    expect(node.metadata.annotations[kwokNodeAnnotation]).toBe('fake');
    expect(node.spec.taints).toBeUndefined();
    expect(node.status.allocatable.pods).toBe('110');
  });
});

describe('componentSpecs with a real node', () => {
  const nodePki: Pki = {
    ...pki,
    node: {
      kubeletClient: pair('kc'),
      kubeletServing: pair('ks'),
      apiServerKubeletClient: pair('akc'),
      kubeProxy: pair('kp'),
      coredns: pair('cd'),
    },
  };
  const real = componentSpecs('/bin', ports, clusterPaths('/state'), nodePki, { nodeIp: '10.200.0.1' });
  const realFlag = (name: string, key: string): string | undefined =>
    real
      .find((s) => s.name === name)
      ?.args.find((a) => a.startsWith(`--${key}=`))
      ?.slice(key.length + 3);

  it('starts no kwok', () => {
    expect(real.map((s) => s.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
  });

  it.each([
    ['bind-address', '10.200.0.1'],
    ['advertise-address', '10.200.0.1'],
    ['endpoint-reconciler-type', 'lease'],
    ['kubelet-client-certificate', '/pki/akc.crt'],
    ['kubelet-client-key', '/pki/akc.key'],
    ['kubelet-certificate-authority', '/pki/ca.crt'],
    ['kubelet-preferred-address-types', 'InternalIP'],
  ])('kube-apiserver --%s=%s', (key, value) => {
    expect(realFlag('kube-apiserver', key)).toBe(value);
  });

  it('runs the node-lifecycle controller (which the kwok cluster does not)', () => {
    expect(realFlag('kube-controller-manager', 'controllers')?.split(',')).toEqual(realNodeControllers);
    expect(realNodeControllers).toContain('node-lifecycle-controller');
    expect(controllers).not.toContain('node-lifecycle-controller');
  });

  it('keeps the kwok cluster on loopback with no endpoint reconciler', () => {
    expect(flag('kube-apiserver', 'bind-address')).toBe('127.0.0.1');
    expect(flag('kube-apiserver', 'endpoint-reconciler-type')).toBe('none');
  });
});
