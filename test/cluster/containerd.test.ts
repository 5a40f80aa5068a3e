import { cniConflist, containerdConfigToml } from './containerd.js';
import { nodeNetwork } from './network.js';
import { nodePaths } from './node-paths.js';

const paths = nodePaths('/state', '/run/ms');
const toml = containerdConfigToml(paths, 'registry.k8s.io/pause:3.10.1');

describe('containerdConfigToml', () => {
  it.each([
    ['root = "/state/node/containerd"'],
    ['state = "/run/ms/containerd"'],
    ['address = "/run/ms/containerd.sock"'],
    ['sandbox_image = "registry.k8s.io/pause:3.10.1"'],
    ['netns_mounts_under_state_dir = true'],
    ['restrict_oom_score_adj = true'],
    ['stream_server_address = "127.0.0.1"'],
    ['snapshotter = "overlayfs"'],
    ['runtime_type = "io.containerd.runc.v2"'],
    ['BinaryName = "/usr/sbin/runc"'],
    ['Root = "/run/ms/runc"'],
    ['SystemdCgroup = false'],
    ['bin_dir = "/usr/lib/cni"'],
    ['conf_dir = "/state/node/cni/net.d"'],
    ['config_path = "/state/node/registry-hosts"'],
  ])('has %s', (line) => {
    expect(toml.split('\n').map((l) => l.trim())).toContain(line);
  });

  it('uses nothing of the system containerd', () => {
    expect(toml).not.toMatch(/\/var\/lib\/containerd|\/run\/containerd|\/etc\/containerd|\/opt\/containerd/);
  });
});

describe('cniConflist', () => {
  const conf = JSON.parse(cniConflist(nodeNetwork, '/state/node/cni/ipam')) as {
    name: string;
    plugins: {
      type: string;
      bridge?: string;
      isGateway?: boolean;
      ipMasq?: boolean;
      hairpinMode?: boolean;
      ipam?: { ranges: { subnet: string; gateway: string }[][]; dataDir: string };
    }[];
  };
  const bridge = conf.plugins[0];

  it('attaches pods to our bridge, without gateway set-up (no ip_forward) and without masquerade', () => {
    expect(conf.name).toBe('modelship');
    expect(bridge).toMatchObject({
      type: 'bridge',
      bridge: 'msbr0',
      isGateway: false,
      ipMasq: false,
      hairpinMode: true,
    });
  });

  it('hands out the pod range from an IPAM store under our state dir', () => {
    expect(bridge.ipam?.ranges).toEqual([[{ subnet: '10.244.0.0/24', gateway: '10.244.0.1' }]]);
    expect(bridge.ipam?.dataDir).toBe('/state/node/cni/ipam');
  });

  it('chains portmap for hostPorts', () => {
    expect(conf.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
  });
});
