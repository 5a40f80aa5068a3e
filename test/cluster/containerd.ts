/**
 * containerd for the real node, as a plain process with its own config, root, state and socket
 * (node-paths.ts), and the CNI network its CRI plugin gives every pod. Pure renderers only.
 */
import type { NodeNetwork } from './network.js';
import type { NodePaths } from './node-paths.js';

/** Directory of the Debian containernetworking-plugins binaries (bridge, host-local, loopback, portmap). */
export const cniBinDir = '/usr/lib/cni';

/** runc from Debian: crun fails on this cgroup v1 host, runc works. */
export const runcBinary = '/usr/sbin/runc';

const tomlString = (s: string): string => JSON.stringify(s);

/**
 * containerd's config (version 2, containerd 1.6). Choices:
 * - overlayfs snapshotter: the state dir is on ext4, where overlay mounts work (and are cheap);
 * - runc through io.containerd.runc.v2 with SystemdCgroup=false: kubelet uses cgroupfs (no systemd
 *   here), and runc's state root is ours (not /run/containerd/runc);
 * - netns_mounts_under_state_dir: pod network namespaces are mounted under our run dir, not
 *   /run/netns, so teardown finds exactly ours;
 * - images are pulled through `config_path` hosts.toml mirrors to the local registry;
 * - restrict_oom_score_adj: this machine withholds CAP_SYS_RESOURCE even from root, so runc could
 *   not lower a container's oom_score_adj below ours (kubelet asks -998 for pause): it is clamped;
 * - the CRI streaming server (exec, logs -f, port-forward) listens on 127.0.0.1 only;
 * - no debug or metrics listeners.
 */
export function containerdConfigToml(paths: NodePaths, sandboxImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${tomlString(paths.containerdRoot)}
state = ${tomlString(paths.containerdState)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = ${tomlString(paths.containerdSocket)}

[ttrpc]
  address = ${tomlString(`${paths.containerdSocket}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${tomlString(`${paths.containerdRoot}/opt`)}

[${cri}]
  sandbox_image = ${tomlString(sandboxImage)}
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true

  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        BinaryName = ${tomlString(runcBinary)}
        Root = ${tomlString(paths.runcRoot)}
        SystemdCgroup = false

  [${cri}.cni]
    bin_dir = ${tomlString(cniBinDir)}
    conf_dir = ${tomlString(paths.cniConfDir)}
    max_conf_num = 1

  [${cri}.registry]
    config_path = ${tomlString(paths.registryHostsDir)}
`;
}

/**
 * The pods' CNI network: the bridge plugin attaches a veth to our bridge (which network.ts made
 * and addressed, so isGateway is false and the plugin never turns on the machine-wide ip_forward),
 * host-local hands out the pod range with its store under our state dir, and the pods' default
 * route goes to the bridge. ipMasq is off: pods need nothing outside the machine, and the guard
 * chain rejects what would leave, so no NAT rules to make and tear down. hairpinMode lets a pod
 * reach itself through a ClusterIP. portmap gives hostPort (its CNI-HOSTPORT-* chains are only
 * made for a pod with hostPorts; podman here uses netavark's own chains, so those are ours).
 */
export function cniConflist(net: NodeNetwork, ipamDir: string): string {
  return (
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: net.cniNetwork,
        plugins: [
          {
            type: 'bridge',
            bridge: net.bridge,
            isGateway: false,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: net.podCidr, gateway: net.podGateway }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: ipamDir,
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/** containerd's command line. */
export function containerdArgs(paths: NodePaths): string[] {
  return ['--config', paths.containerdConfig, '--log-level', 'warn'];
}
