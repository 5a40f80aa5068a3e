import { parse } from 'yaml';

import {
  hostsTomlFiles,
  localImageRef,
  parseImageRef,
  registryConfigYaml,
  registryPaths,
  registryReadyUrl,
  registrySpec,
} from './registry.js';

describe('parseImageRef', () => {
  it.each([
    ['registry.k8s.io/pause:3.10.1', 'registry.k8s.io', 'pause', ':3.10.1'],
    ['registry.k8s.io/e2e-test-images/agnhost:2.59', 'registry.k8s.io', 'e2e-test-images/agnhost', ':2.59'],
    ['ghcr.io/modelship/modelship:dev', 'ghcr.io', 'modelship/modelship', ':dev'],
    ['ghcr.io/modelship/modelship', 'ghcr.io', 'modelship/modelship', ':latest'],
    ['localhost:5000/a/b:1', 'localhost:5000', 'a/b', ':1'],
    ['localhost/x', 'localhost', 'x', ':latest'],
    ['nginx', 'docker.io', 'library/nginx', ':latest'],
    ['nginx:1.27', 'docker.io', 'library/nginx', ':1.27'],
    ['user/app:v1', 'docker.io', 'user/app', ':v1'],
    ['registry.k8s.io/pause@sha256:abc', 'registry.k8s.io', 'pause', '@sha256:abc'],
    ['registry.k8s.io/pause:3.10.1@sha256:abc', 'registry.k8s.io', 'pause', '@sha256:abc'],
  ])('%s → %s %s %s', (ref, registry, repository, suffix) => {
    expect(parseImageRef(ref)).toEqual({ registry, repository, suffix });
  });

  it.each(['registry.k8s.io/pause:', ':1'])('rejects %s, naming it', (ref) => {
    expect(() => parseImageRef(ref)).toThrow(`parse image reference "${ref}"`);
  });
});

describe('localImageRef', () => {
  it.each([
    ['registry.k8s.io/pause:3.10.1', '127.0.0.1:5000/registry.k8s.io/pause:3.10.1'],
    ['registry.k8s.io/e2e-test-images/agnhost:2.59', '127.0.0.1:5000/registry.k8s.io/e2e-test-images/agnhost:2.59'],
    ['ghcr.io/modelship/modelship:dev', '127.0.0.1:5000/ghcr.io/modelship/modelship:dev'],
    ['nginx', '127.0.0.1:5000/docker.io/library/nginx:latest'],
  ])('%s → %s', (ref, local) => {
    expect(localImageRef(ref, '127.0.0.1:5000')).toBe(local);
  });
});

describe('hostsTomlFiles', () => {
  const files = hostsTomlFiles(['registry.k8s.io', 'ghcr.io'], '127.0.0.1:5000');

  it('writes one <upstream>/hosts.toml per upstream', () => {
    expect(files.map((f) => f.path)).toEqual(['registry.k8s.io/hosts.toml', 'ghcr.io/hosts.toml']);
  });

  it.each([
    [0, 'server = "http://127.0.0.1:5000/v2/registry.k8s.io"'],
    [1, 'server = "http://127.0.0.1:5000/v2/ghcr.io"'],
    [0, '[host."http://127.0.0.1:5000/v2/registry.k8s.io"]'],
    [1, '[host."http://127.0.0.1:5000/v2/ghcr.io"]'],
    [0, 'override_path = true'],
    [0, '  override_path = true'],
    [1, 'capabilities = ["pull", "resolve"]'],
  ])('file %i has %s', (i, line) => {
    expect(files[i].content.split('\n')).toContain(line);
  });

  it('never names the upstream as a server (no fallback to the outside)', () => {
    for (const f of files) expect(f.content).not.toMatch(/https:\/\//);
  });

  it('maps an upstream reference to the path its mirror asks for', () => {
    // containerd asks <server>/<repository>/manifests/<tag> with override_path; localImageRef must push there.
    const server = /server = "http:\/\/([^"]+)\/v2\/([^"]+)"/.exec(files[0].content);
    expect(`${server?.[1]}/${server?.[2]}/pause:3.10.1`).toBe(
      localImageRef('registry.k8s.io/pause:3.10.1', '127.0.0.1:5000'),
    );
  });
});

describe('registry config and command line', () => {
  const paths = registryPaths('/state');
  const config = parse(registryConfigYaml(5000, paths.storage)) as {
    http: { addr: string };
    storage: { filesystem: { rootdirectory: string }; delete: { enabled: boolean } };
    auth?: unknown;
  };

  it.each([
    ['listens on loopback only', config.http.addr, '127.0.0.1:5000'],
    ['stores blobs under the state dir', config.storage.filesystem.rootdirectory, '/state/registry'],
    ['allows deletes', config.storage.delete.enabled, true],
    ['has no auth', config.auth, undefined],
  ])('%s', (_what, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('runs `registry serve <config>`, logging beside the control plane', () => {
    expect(registrySpec('/bin', paths)).toEqual({
      name: 'registry',
      bin: '/bin/registry',
      args: ['serve', '/state/registry.yml'],
      log: '/state/logs/registry.log',
    });
  });

  it('is ready when /v2/ answers', () => {
    expect(registryReadyUrl(5000)).toBe('http://127.0.0.1:5000/v2/');
  });
});
