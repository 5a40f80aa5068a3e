import { createHash } from 'node:crypto';

import { realNodeUnavailable, shimSocketPath } from './node.js';

describe('realNodeUnavailable', () => {
  it.each([
    [{ platform: 'linux', uid: 0, missing: [] }, undefined],
    [{ platform: 'darwin', uid: 0, missing: [] }, 'real node needs Linux (this is darwin)'],
    [{ platform: 'linux', uid: 1000, missing: [] }, 'real node needs root (links, iptables, mounts, cgroups)'],
    [{ platform: 'linux', uid: 0, missing: ['containerd', '/c/kubelet'] }, 'real node needs containerd, /c/kubelet'],
  ])('%j → %s', (facts, why) => {
    expect(realNodeUnavailable(facts)).toBe(why);
  });
});

describe('shimSocketPath', () => {
  it("is containerd 1.6's /run/containerd/s/<sha256 of address/namespace/id>", () => {
    const sha = createHash('sha256').update('/run/modelship-node/containerd.sock/k8s.io/t1').digest('hex');
    expect(
      shimSocketPath([
        '/usr/bin/containerd-shim-runc-v2',
        '-namespace',
        'k8s.io',
        '-id',
        't1',
        '-address',
        '/run/modelship-node/containerd.sock',
      ]),
    ).toBe(`/run/containerd/s/${sha}`);
    // Checked against a real shim on this machine: 8deccc85… for exactly that address, namespace and id.
    expect(sha.startsWith('8deccc85')).toBe(true);
  });
  it('is undefined without -address or -id', () => {
    expect(shimSocketPath(['/usr/bin/containerd-shim-runc-v2', '-id', 'x'])).toBeUndefined();
  });
});
