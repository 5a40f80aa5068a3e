/**
 * The real node's processes as command lines (pure): containerd, kubelet, kube-proxy, CoreDNS, in
 * start order. The registry's comes from registry.ts.
 */
import { join } from 'node:path';

import type { ComponentSpec } from './components.js';
import { containerdArgs } from './containerd.js';
import { corednsArgs } from './coredns.js';
import { kubeProxyArgs } from './kube-proxy.js';
import { kubeletArgs } from './kubelet.js';
import type { NodeNetwork } from './network.js';
import type { NodePaths } from './node-paths.js';

/** containerd (from Debian, on PATH), then kubelet, kube-proxy and CoreDNS from the binary cache. */
export function nodeComponentSpecs(
  binDir: string,
  logsDir: string,
  paths: NodePaths,
  net: NodeNetwork,
  containerdBin = '/usr/bin/containerd',
): ComponentSpec[] {
  const log = (name: string): string => join(logsDir, `${name}.log`);
  return [
    { name: 'containerd', bin: containerdBin, args: containerdArgs(paths), log: log('containerd') },
    { name: 'kubelet', bin: join(binDir, 'kubelet'), args: kubeletArgs(paths, net), log: log('kubelet') },
    { name: 'kube-proxy', bin: join(binDir, 'kube-proxy'), args: kubeProxyArgs(paths), log: log('kube-proxy') },
    { name: 'coredns', bin: join(binDir, 'coredns'), args: corednsArgs(paths), log: log('coredns') },
  ];
}
