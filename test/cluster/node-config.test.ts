import { parse } from 'yaml';

import { corefile, corednsRbac } from './coredns.js';
import { kubeProxyConfigYaml } from './kube-proxy.js';
import { kubeletArgs, kubeletConfigYaml, resolvConf, type NodePorts } from './kubelet.js';
import { nodeNetwork } from './network.js';
import { nodeComponentSpecs } from './node-components.js';
import { nodePaths } from './node-paths.js';
import type { NodePki } from './pki.js';

const paths = nodePaths('/state', '/run/ms');
const ports: NodePorts = {
  kubelet: 2001,
  kubeletHealthz: 2002,
  kubeProxyHealthz: 2003,
  kubeProxyMetrics: 2004,
  corednsReady: 2005,
  registry: 2006,
};
const pair = (n: string): { cert: string; key: string } => ({ cert: `/pki/${n}.crt`, key: `/pki/${n}.key` });
const pki: NodePki = {
  kubeletClient: pair('kc'),
  kubeletServing: pair('ks'),
  apiServerKubeletClient: pair('akc'),
  kubeProxy: pair('kp'),
  coredns: pair('cd'),
};

describe('kubeletConfigYaml', () => {
  const c = parse(kubeletConfigYaml(paths, pki, '/pki/ca.crt', nodeNetwork, ports)) as Record<string, unknown>;
  it.each([
    ['cgroupDriver', 'cgroupfs'],
    ['failCgroupV1', false],
    ['containerRuntimeEndpoint', 'unix:///run/ms/containerd.sock'],
    ['address', '10.200.0.1'],
    ['port', 2001],
    ['readOnlyPort', 0],
    ['healthzBindAddress', '127.0.0.1'],
    ['tlsCertFile', '/pki/ks.crt'],
    ['clusterDNS', ['10.200.0.1']],
    ['clusterDomain', 'cluster.local'],
    ['resolvConf', '/state/node/resolv.conf'],
    ['failSwapOn', false],
    ['podCIDR', '10.244.0.0/24'],
    ['podLogsDir', '/state/node/pod-logs'],
    ['imageGCHighThresholdPercent', 100],
  ])('%s = %j', (key, value) => {
    expect(c[key]).toEqual(value);
  });

  it('refuses anonymous requests and checks the rest with the API server', () => {
    expect(c.authentication).toEqual({
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: '/pki/ca.crt' },
    });
    expect(c.authorization).toEqual({ mode: 'Webhook' });
  });

  it('evicts nothing on a shared, fairly full disk', () => {
    expect(c.evictionHard).toEqual({
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
    });
  });
});

describe('kubeletArgs', () => {
  it('keeps kubelet under our state dir and names the node by its address', () => {
    expect(kubeletArgs(paths, nodeNetwork)).toEqual(
      expect.arrayContaining([
        '--root-dir=/state/node/kubelet',
        '--node-ip=10.200.0.1',
        '--hostname-override=modelship-node',
        '--config=/state/node/kubelet.yaml',
      ]),
    );
  });
});

describe('resolvConf', () => {
  it('names only the cluster DNS', () => {
    expect(resolvConf(nodeNetwork).match(/^nameserver .*/gm)).toEqual(['nameserver 10.200.0.1']);
  });
});

describe('kubeProxyConfigYaml', () => {
  const c = parse(kubeProxyConfigYaml(paths, nodeNetwork, ports)) as Record<string, unknown>;
  it.each([
    ['mode', 'nftables'],
    ['clusterCIDR', '10.244.0.0/24'],
    ['healthzBindAddress', '127.0.0.1:2003'],
    ['metricsBindAddress', '127.0.0.1:2004'],
    ['nodePortAddresses', ['10.200.0.1/32']],
    ['hostnameOverride', 'modelship-node'],
  ])('%s = %j', (key, value) => {
    expect(c[key]).toEqual(value);
  });

  it('leaves the machine-wide conntrack sysctls alone', () => {
    expect(c.conntrack).toEqual({ maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' });
  });
});

describe('corefile', () => {
  const text = corefile(paths, nodeNetwork, 2005, 'ctx');
  it('serves cluster.local from the API on the node address, with readiness on loopback', () => {
    expect(text).toContain('cluster.local:53 {\n    bind 10.200.0.1');
    expect(text).toContain('kubeconfig /state/node/coredns.kubeconfig ctx');
    expect(text).toContain('ready 127.0.0.1:2005');
  });
  it('serves no other zone (CoreDNS answers REFUSED) and forwards nothing', () => {
    expect(text.match(/^\S+:53 \{/gm)).toEqual(['cluster.local:53 {']);
    expect(text).not.toMatch(/forward|proxy/);
  });
});

describe('corednsRbac', () => {
  it('lets system:coredns list and watch what the kubernetes plugin reads', () => {
    const [role, binding] = corednsRbac() as [
      { rules: { resources: string[]; verbs: string[] }[] },
      { subjects: { name: string }[] },
    ];
    expect(role.rules.flatMap((r) => r.resources)).toEqual(
      expect.arrayContaining(['services', 'endpointslices', 'namespaces', 'pods']),
    );
    expect(role.rules.every((r) => r.verbs.join() === 'list,watch')).toBe(true);
    expect(binding.subjects[0].name).toBe('system:coredns');
  });
});

describe('nodeComponentSpecs', () => {
  it('starts containerd, kubelet, kube-proxy, CoreDNS in that order, logging with the control plane', () => {
    const specs = nodeComponentSpecs('/bin', '/state/logs', paths, nodeNetwork);
    expect(specs.map((s) => s.name)).toEqual(['containerd', 'kubelet', 'kube-proxy', 'coredns']);
    expect(specs.map((s) => s.log)).toEqual([
      '/state/logs/containerd.log',
      '/state/logs/kubelet.log',
      '/state/logs/kube-proxy.log',
      '/state/logs/coredns.log',
    ]);
    expect(specs[0].args).toEqual(['--config', '/state/node/containerd.toml', '--log-level', 'warn']);
  });
});
