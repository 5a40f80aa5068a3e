import {
  findLeftovers,
  isOurCniCache,
  mountPointsUnder,
  ourChains,
  ourLinks,
  ourNftTables,
  processesOfOurs,
  type HostSnapshot,
} from './leftovers.js';
import { nodeNetwork } from './network.js';

const scope = { stateDir: '/w/.state/cluster-node', runDir: '/run/modelship-node', net: nodeNetwork };
const mountinfo = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '900 22 0:50 / /run/modelship-node/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw - overlay overlay rw',
  '901 22 0:51 / /w/.state/cluster-node/node/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access-x rw - tmpfs tmpfs rw',
  '902 22 0:4 net:[4026532] /run/modelship-node/containerd/io.containerd.grpc.v1.cri/netns/cni-1 rw - nsfs nsfs rw',
  '903 22 0:52 / /w/.state/cluster/other rw - tmpfs tmpfs rw',
  '904 22 0:53 / /w/.state/cluster-node/with\\040space rw - tmpfs tmpfs rw',
].join('\n');

describe('mountPointsUnder', () => {
  it('finds the mounts under our dirs (not a sibling dir with the same prefix), deepest first', () => {
    expect(mountPointsUnder(mountinfo, [scope.stateDir, scope.runDir])).toEqual([
      '/w/.state/cluster-node/node/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access-x',
      '/run/modelship-node/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs',
      '/run/modelship-node/containerd/io.containerd.grpc.v1.cri/netns/cni-1',
      '/w/.state/cluster-node/with space',
    ]);
  });
});

describe('processesOfOurs', () => {
  const procs: HostSnapshot['processes'] = [
    { pid: 1, cmdline: ['/bin/kubelet', '--config=/w/.state/cluster-node/node/kubelet.yaml'] },
    {
      pid: 2,
      cmdline: [
        '/usr/bin/containerd-shim-runc-v2',
        '-namespace',
        'k8s.io',
        '-id',
        'x',
        '-address',
        '/run/modelship-node/containerd.sock',
      ],
    },
    { pid: 3, cmdline: ['/bin/etcd', '--data-dir=/w/.state/cluster/etcd'] },
    { pid: 4, cmdline: ['/usr/bin/containerd-shim-runc-v2', '-address', '/run/containerd/containerd.sock'] },
  ];
  it("matches our state and run dirs only (another cluster's etcd and the system containerd's shims are not ours)", () => {
    expect(processesOfOurs(procs, scope).map((p) => p.pid)).toEqual([1, 2]);
  });
});

describe('ourChains / ourNftTables / ourLinks', () => {
  it.each([
    [
      '*nat\n:POSTROUTING ACCEPT [0:0]\n:KUBE-POSTROUTING - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:NETAVARK-HOSTPORT-DNAT - [0:0]\nCOMMIT',
      ['nat/KUBE-POSTROUTING', 'nat/CNI-HOSTPORT-DNAT'],
    ],
    ['*filter\n:INPUT ACCEPT [0:0]\nCOMMIT', []],
  ])('chains in %j', (save, chains) => {
    expect(ourChains(save)).toEqual(chains);
  });

  it("finds kube-proxy's tables and the guard, not podman's", () => {
    expect(
      ourNftTables(
        'table ip filter\ntable ip kube-proxy\ntable ip6 kube-proxy\ntable inet netavark\ntable ip modelship-guard',
        nodeNetwork,
      ),
    ).toEqual(['table ip kube-proxy', 'table ip6 kube-proxy', 'table ip modelship-guard']);
  });

  it('finds our bridges and veths on the pod bridge', () => {
    const links =
      '4: msnode0: <UP> mtu 1500\n5: msbr0: <UP> mtu 1500\n6: vethab@if2: <UP> mtu 1500 master msbr0 state UP\n7: podman0: <UP>';
    expect(ourLinks(links, nodeNetwork)).toEqual(['msnode0', 'msbr0', 'vethab']);
  });
});

describe('findLeftovers', () => {
  const clean: HostSnapshot = {
    processes: [],
    mountinfo: '',
    links: '',
    iptablesSave: '',
    ip6tablesSave: '',
    nftTables: '',
    cgroupDirs: [],
    files: [],
  };
  it('is empty for a clean host', () => {
    expect(findLeftovers(clean, scope)).toEqual([]);
  });
  it('names each kind of leftover', () => {
    const dirty: HostSnapshot = {
      ...clean,
      mountinfo,
      links: '5: msbr0: <UP> mtu 1500',
      nftTables: 'table ip kube-proxy',
      cgroupDirs: ['/sys/fs/cgroup/memory/kubepods'],
      files: ['/run/modelship-node'],
    };
    const found = findLeftovers(dirty, scope);
    expect(found.filter((l) => l.startsWith('mount '))).toHaveLength(4);
    expect(found).toEqual(
      expect.arrayContaining([
        'link msbr0',
        'nftables table ip kube-proxy',
        'cgroup /sys/fs/cgroup/memory/kubepods',
        'file /run/modelship-node',
      ]),
    );
  });
});

describe('isOurCniCache', () => {
  const entry = (sandbox: string): string =>
    JSON.stringify({
      kind: 'cniCacheV1',
      networkName: 'cni-loopback',
      result: { interfaces: [{ name: 'lo', sandbox }] },
    });
  it.each([
    ['/run/modelship-node/containerd/io.containerd.grpc.v1.cri/netns/cni-1', true],
    ['/run/netns/cni-1', false],
    ['/run/modelship-node-other/netns/x', false],
  ])('sandbox %s → %s', (sandbox, ours) => {
    expect(isOurCniCache(entry(sandbox), '/run/modelship-node')).toBe(ours);
  });
});
