import {
  DEFAULT_SERVER_REPOSITORIES,
  clusterAddressOf,
  clusterPortOf,
  hostPathFor,
  imageRepository,
  localVolumesFor,
  secretNamesOf,
  mapEnvPaths,
  mapModelUri,
  nextBackend,
  parseMount,
  podEndpointOf,
  podEndpointsOf,
  podsBehind,
  processEnvFor,
  selectorMatches,
  serviceAccountFor,
  serviceAddressCandidate,
  shouldRun,
  type PodLike,
} from './podspec.js';

const mounts = [parseMount('/models=examples/models', '/repo'), parseMount('/models/big/=/data/big', '/repo')];

function pod(over: Partial<PodLike> = {}, labels: Record<string, string> = { app: 'a' }): PodLike {
  return {
    metadata: { name: 'digits-abc-1', namespace: 'default', uid: 'u1', labels },
    spec: { nodeName: 'kwok-node-0', containers: [{ name: 'server', image: 'ghcr.io/modelship/modelship:0.1.0' }] },
    status: { phase: 'Running', podIP: '10.0.0.7' },
    ...over,
  };
}

describe('parseMount', () => {
  it.each([
    ['/models=examples/models', { containerPath: '/models', hostPath: '/repo/examples/models' }],
    ['/models/=/abs/dir', { containerPath: '/models', hostPath: '/abs/dir' }],
  ])('%s', (text, expected) => expect(parseMount(text, '/repo')).toEqual(expected));

  it.each(['models=examples', '/models', '/models=', '=x'])('rejects %s naming it', (text) => {
    expect(() => parseMount(text, '/repo')).toThrow(
      `parse --mount ${JSON.stringify(text)}: expected /container/path=host/path`,
    );
  });
});

describe('hostPathFor and mapModelUri', () => {
  it.each([
    ['/models/digits.onnx', '/repo/examples/models/digits.onnx'],
    ['/models/big/llm.onnx', '/data/big/llm.onnx'],
    ['/models', '/repo/examples/models'],
    ['/modelsX/a.onnx', undefined],
    ['/models/../etc/passwd', undefined],
  ])('%s -> %s', (path, expected) => expect(hostPathFor(path, mounts)).toBe(expected));

  it.each([
    ['file:///models/digits.onnx', 'file:///repo/examples/models/digits.onnx'],
    ['file:///models/with%20space.onnx', 'file:///repo/examples/models/with space.onnx'],
    ['/models/digits.onnx', '/repo/examples/models/digits.onnx'],
    ['https://example.com/models/digits.onnx', 'https://example.com/models/digits.onnx'],
    ['pvc://claim/digits.onnx', 'pvc://claim/digits.onnx'],
  ])('%s -> %s', (uri, expected) => expect(mapModelUri(uri, mounts)).toBe(expected));

  it('refuses a file URI outside every mount, naming the URI and the mounts', () => {
    expect(() => mapModelUri('file:///srv/m.onnx', mounts)).toThrow(
      'map model URI file:///srv/m.onnx: no --mount covers /srv/m.onnx (have: /models, /models/big)',
    );
  });
});

describe('imageRepository', () => {
  it.each([
    ['ghcr.io/modelship/server:0.1.0', 'ghcr.io/modelship/server'],
    ['ghcr.io/modelship/server', 'ghcr.io/modelship/server'],
    ['localhost:5000/modelship/server:dev', 'localhost:5000/modelship/server'],
    ['localhost:5000/server', 'localhost:5000/server'],
    [`ghcr.io/modelship/server@sha256:${'a'.repeat(64)}`, 'ghcr.io/modelship/server'],
  ])('%s -> %s', (image, expected) => expect(imageRepository(image)).toBe(expected));
});

describe('shouldRun', () => {
  const kwok = new Set(['kwok-node-0']);
  it.each<[string, PodLike, boolean]>([
    ['a Running server pod on a kwok node', pod(), true],
    ['a pending pod', pod({ status: { phase: 'Pending' } }), false],
    ['an unscheduled pod', pod({ spec: { containers: pod().spec!.containers } }), false],
    ['a pod on a real node', pod({ spec: { ...pod().spec, nodeName: 'worker-1' } }), false],
    [
      'a pod being deleted',
      { ...pod(), metadata: { ...pod().metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } },
      false,
    ],
    [
      'a pod of another image',
      pod({ spec: { ...pod().spec, containers: [{ name: 'proxy', image: 'ghcr.io/example/proxy:0.1.0' }] } }),
      false,
    ],
    [
      'a pod of the retired ghcr.io/modelship/server image',
      pod({ spec: { ...pod().spec, containers: [{ name: 'server', image: 'ghcr.io/modelship/server:0.1.0' }] } }),
      false,
    ],
  ])('%s', (_what, p, expected) => expect(shouldRun(p, kwok, DEFAULT_SERVER_REPOSITORIES)).toBe(expected));
});

describe('serviceAccountFor', () => {
  const router = (automount?: boolean, serviceAccountName?: string): PodLike =>
    pod({ spec: { ...pod().spec, automountServiceAccountToken: automount, serviceAccountName } });
  it.each<[string, PodLike, boolean | undefined, string | undefined]>([
    [
      'the router: the pod asks for its token, the ServiceAccount says no',
      router(true, 'digits-router'),
      false,
      'digits-router',
    ],
    ['a model server: the pod says no', router(false, 'default'), true, undefined],
    ['nothing said: mounted, as in Kubernetes', router(undefined, 'reader'), undefined, 'reader'],
    ['the ServiceAccount says no and the pod nothing', router(undefined, 'reader'), false, undefined],
    ['no ServiceAccount named: default', router(undefined, undefined), true, 'default'],
  ])('%s', (_what, p, saAutomount, expected) => expect(serviceAccountFor(p, saAutomount)).toBe(expected));
});

describe('cluster addresses of Services', () => {
  it('is stable per Service and cluster, differs between them, and stays out of 127.0.0.0/24', () => {
    const a = serviceAddressCandidate('https://127.0.0.1:6443', 'ns/digits', 0);
    expect(serviceAddressCandidate('https://127.0.0.1:6443', 'ns/digits', 0)).toBe(a);
    const others = [
      serviceAddressCandidate('https://127.0.0.1:6443', 'ns/digits', 1),
      serviceAddressCandidate('https://127.0.0.1:6443', 'ns/digits-abc', 0),
      serviceAddressCandidate('https://127.0.0.1:7443', 'ns/digits', 0),
    ];
    expect(new Set([a, ...others]).size).toBe(4);
    const many = Array.from({ length: 2000 }, (_, i) => serviceAddressCandidate('s', `ns/svc-${i}`, 0));
    for (const address of many) {
      const [first, second, third, fourth] = address.split('.').map(Number);
      expect([
        first,
        second! >= 1 && second! <= 254,
        third! >= 0 && third! <= 255,
        fourth! >= 1 && fourth! <= 254,
      ]).toEqual([127, true, true, true]);
    }
  });

  it.each<[string, { name?: string; port: number }[] | undefined, number | undefined]>([
    [
      'the port named http',
      [
        { name: 'metrics', port: 9090 },
        { name: 'http', port: 80 },
      ],
      80,
    ],
    ['else the first port', [{ port: 8000 }, { port: 9000 }], 8000],
    ['no port', undefined, undefined],
  ])('serves %s', (_what, ports, expected) =>
    expect(clusterPortOf({ metadata: { name: 's' }, spec: { ports } })).toBe(expected),
  );

  const addresses = { 'team/digits-1a2b3c4d5e': '127.9.1.2', 'team/digits': '127.9.1.3', 'other/digits': '127.9.1.4' };
  it.each<[string, string | undefined]>([
    ['digits-1a2b3c4d5e.team.svc', '127.9.1.2'],
    ['digits-1a2b3c4d5e.team.svc.cluster.local', '127.9.1.2'],
    ['DIGITS.team.svc.cluster.local.', '127.9.1.3'],
    ['digits.other', '127.9.1.4'],
    ['digits', '127.9.1.3'],
    ['digits.nowhere.svc', undefined],
    ['digits.team.svc.example.com', undefined],
    ['digits.svc', undefined],
    ['example.com', undefined],
    ['localhost', undefined],
  ])('%s in namespace team -> %s', (hostname, expected) =>
    expect(clusterAddressOf(hostname, 'team', addresses)).toBe(expected),
  );
});

describe('processEnvFor', () => {
  const local = { httpPort: 41000, metricsPort: 41001, podDir: '/state/default/digits-abc-1', mounts };

  it('keeps the container env, resolves fieldRefs, maps the model and overrides the local settings', () => {
    const p = pod();
    const container = {
      name: 'server',
      env: [
        { name: 'MODELSHIP_MODEL_URI', value: 'file:///models/digits.onnx' },
        { name: 'MODELSHIP_SHA256', value: 'ab'.repeat(32) },
        { name: 'MODELSHIP_PROFILE_URI', value: 'file:///models/digits.profile.json' },
        { name: 'MODELSHIP_PORT', value: '8080' },
        { name: 'MODELSHIP_METRICS_PORT', value: '9090' },
        { name: 'MODELSHIP_CACHE_DIR', value: '/var/cache/modelship' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'EMPTY' },
      ],
    };
    expect(processEnvFor(p, container, local)).toEqual({
      env: {
        MODELSHIP_MODEL_URI: 'file:///repo/examples/models/digits.onnx',
        MODELSHIP_SHA256: 'ab'.repeat(32),
        MODELSHIP_PROFILE_URI: 'file:///repo/examples/models/digits.profile.json',
        MODELSHIP_HOST: '127.0.0.1',
        MODELSHIP_PORT: '41000',
        MODELSHIP_METRICS_PORT: '41001',
        MODELSHIP_CACHE_DIR: '/state/default/digits-abc-1/cache',
        MODELSHIP_TERMINATION_LOG: '/state/default/digits-abc-1/termination-log',
        MODELSHIP_PROCESSES: '1',
        MODELSHIP_WORKERS: '1',
        POD: 'digits-abc-1',
        NS: 'default',
        IP: '10.0.0.7',
        EMPTY: '',
      },
      warnings: [],
    });
  });

  it("loads the cluster DNS preload after the pod's own NODE_OPTIONS and passes the kubeconfig", () => {
    const container = {
      name: 'router',
      env: [
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' },
        { name: 'MODELSHIP_MODE', value: 'router' },
      ],
    };
    const { env } = processEnvFor(pod(), container, {
      ...local,
      dns: {
        preload: '/repo/dist/test/localpods/dnsPreload.js',
        addressesFile: '/state/addresses.json',
        podAddressesFile: '/state/pod-addresses.json',
      },
      kubeconfig: '/state/default/digits-abc-1/kubeconfig',
    });
    expect(env).toMatchObject({
      NODE_OPTIONS: '--max-old-space-size=200 --import=/repo/dist/test/localpods/dnsPreload.js',
      MODELSHIP_LOCALPODS_ADDRESSES: '/state/addresses.json',
      MODELSHIP_LOCALPODS_POD_ADDRESSES: '/state/pod-addresses.json',
      MODELSHIP_LOCALPODS_NAMESPACE: 'default',
      KUBECONFIG: '/state/default/digits-abc-1/kubeconfig',
      MODELSHIP_MODE: 'router',
    });
    expect(processEnvFor(pod(), container, local).env).not.toHaveProperty('KUBECONFIG');
  });

  it('keeps an explicit worker count', () => {
    expect(
      processEnvFor(pod(), { name: 'server', env: [{ name: 'MODELSHIP_WORKERS', value: '3' }] }, local).env
        .MODELSHIP_WORKERS,
    ).toBe('3');
  });

  it('leaves unsupported sources unset with a warning naming the pod, container and variable', () => {
    const { env, warnings } = processEnvFor(
      pod(),
      {
        name: 'server',
        env: [
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        ],
      },
      local,
    );
    expect(env).not.toHaveProperty('TOKEN');
    expect(env).not.toHaveProperty('NODE');
    expect(warnings).toEqual([
      'pod default/digits-abc-1 container server: env TOKEN: secretKeyRef is not supported locally, left unset',
      'pod default/digits-abc-1 container server: env NODE: fieldRef spec.nodeName is not supported locally, left unset',
    ]);
  });

  it('fails when the model cannot be reached locally', () => {
    expect(() =>
      processEnvFor(
        pod(),
        { name: 'server', env: [{ name: 'MODELSHIP_MODEL_URI', value: 'file:///srv/x.onnx' }] },
        local,
      ),
    ).toThrow(/no --mount covers \/srv\/x\.onnx/);
  });
});

describe('selectors and round robin', () => {
  it.each<[Record<string, string> | undefined, Record<string, string> | undefined, boolean]>([
    [{ app: 'a' }, { app: 'a', extra: 'x' }, true],
    [{ app: 'a', rev: '1' }, { app: 'a' }, false],
    [{}, { app: 'a' }, false],
    [undefined, { app: 'a' }, false],
    [{ app: 'a' }, undefined, false],
  ])('%j selects %j: %s', (selector, labels, expected) => expect(selectorMatches(selector, labels)).toBe(expected));

  it('finds the pods behind a Service in its own namespace, sorted', () => {
    const service = { metadata: { name: 'digits', namespace: 'default' }, spec: { selector: { app: 'a' } } };
    const pods = [
      { ...pod(), metadata: { name: 'p2', namespace: 'default', labels: { app: 'a' } } },
      { ...pod(), metadata: { name: 'p1', namespace: 'default', labels: { app: 'a' } } },
      { ...pod(), metadata: { name: 'p3', namespace: 'other', labels: { app: 'a' } } },
      { ...pod(), metadata: { name: 'p4', namespace: 'default', labels: { app: 'b' } } },
    ];
    expect(podsBehind(service, pods)).toEqual(['default/p1', 'default/p2']);
  });

  it.each<[string[], string | undefined, string | undefined]>([
    [[], undefined, undefined],
    [['a', 'b', 'c'], undefined, 'a'],
    [['a', 'b', 'c'], 'a', 'b'],
    [['a', 'b', 'c'], 'c', 'a'],
    [['a', 'c'], 'b', 'c'],
    [['a', 'b'], 'z', 'a'],
  ])('backends %j after %s -> %s', (backends, previous, expected) =>
    expect(nextBackend(backends, previous)).toBe(expected),
  );
});

describe('localVolumesFor and mapEnvPaths', () => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const p = {
    ...pod(),
    metadata: { ...pod().metadata, annotations: { 'modelship.dev/signature': 'c2ln' } },
    spec: {
      ...pod().spec,
      volumes: [
        { name: 'model-cache', emptyDir: { sizeLimit: '4Gi' } },
        { name: 'auth-token', secret: { secretName: 'tokens', items: [{ key: 'token', path: 'token' }] } },
        { name: 'public-key', secret: { secretName: 'keys' } },
        {
          name: 'signature',
          downwardAPI: {
            items: [{ path: 'signature', fieldRef: { fieldPath: "metadata.annotations['modelship.dev/signature']" } }],
          },
        },
        { name: 'model-pvc', persistentVolumeClaim: { claimName: 'models' } },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }],
          },
        },
      ],
    },
  };
  const container = {
    name: 'server',
    volumeMounts: [
      { name: 'model-cache', mountPath: '/var/cache/modelship' },
      { name: 'auth-token', mountPath: '/etc/modelship/auth' },
      { name: 'public-key', mountPath: '/etc/modelship/public-key' },
      { name: 'signature', mountPath: '/etc/modelship/signature' },
      { name: 'model-pvc', mountPath: '/mnt/pvc/models' },
      { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ],
  };
  const secrets = new Map<string, Record<string, string>>([
    ['tokens', { token: b64('s3cret\n'), other: b64('unused') }],
    ['keys', { 'key.pem': b64('PEM') }],
  ]);

  it('emulates emptyDir, secret and downwardAPI volumes under the pod dir, skips the token volume, and warns about the rest', () => {
    const v = localVolumesFor(p, container, '/s/default/pod', secrets);
    expect(v.mounts).toEqual([
      { containerPath: '/var/cache/modelship', hostPath: '/s/default/pod/volumes/model-cache' },
      { containerPath: '/etc/modelship/auth', hostPath: '/s/default/pod/volumes/auth-token' },
      { containerPath: '/etc/modelship/public-key', hostPath: '/s/default/pod/volumes/public-key' },
      { containerPath: '/etc/modelship/signature', hostPath: '/s/default/pod/volumes/signature' },
    ]);
    expect(v.files.map((f) => [f.path, f.content.toString()])).toEqual([
      ['/s/default/pod/volumes/auth-token/token', 's3cret\n'],
      ['/s/default/pod/volumes/public-key/key.pem', 'PEM'],
      ['/s/default/pod/volumes/signature/signature', 'c2ln'],
    ]);
    expect(v.missingSecrets).toEqual([]);
    expect(v.warnings).toEqual([
      'pod default/digits-abc-1 container server: volume model-pvc (persistentVolumeClaim) is not supported locally, /mnt/pvc/models not mounted',
    ]);
  });

  it('reports missing Secrets and keys so the pod waits', () => {
    const v = localVolumesFor(p, container, '/s', new Map([['tokens', { other: b64('x') }]]));
    expect(v.missingSecrets).toEqual(['tokens (key token)', 'keys']);
  });

  it("emulates the router's projected token Secrets: present ones as <secret>/<key> files, a missing optional one left out", () => {
    const router = {
      ...pod(),
      spec: {
        ...pod().spec,
        volumes: [
          {
            name: 'auth-tokens',
            projected: {
              sources: [
                { secret: { name: 'tokens', optional: true, items: [{ key: 'token', path: 'tokens/token' }] } },
                { secret: { name: 'gone', optional: true, items: [{ key: 'token', path: 'gone/token' }] } },
              ],
            },
          },
        ],
      },
    };
    const mount = {
      name: 'router',
      volumeMounts: [{ name: 'auth-tokens', mountPath: '/etc/modelship/router-tokens' }],
    };
    expect(secretNamesOf(router)).toEqual(['tokens', 'gone']);
    const v = localVolumesFor(router, mount, '/s/p', secrets);
    expect(v.mounts).toEqual([{ containerPath: '/etc/modelship/router-tokens', hostPath: '/s/p/volumes/auth-tokens' }]);
    expect(v.files.map((f) => [f.path, f.content.toString()])).toEqual([
      ['/s/p/volumes/auth-tokens/tokens/token', 's3cret\n'],
    ]);
    expect(v).toMatchObject({ missingSecrets: [], warnings: [] });
    expect(mapEnvPaths({ MODELSHIP_ROUTER_TOKEN_DIR: '/etc/modelship/router-tokens' }, v.mounts)).toEqual({
      MODELSHIP_ROUTER_TOKEN_DIR: '/s/p/volumes/auth-tokens',
    });
    // A required source waits for its Secret, as the kubelet would.
    const required = structuredClone(router);
    required.spec.volumes[0]!.projected.sources[1]!.secret.optional = false;
    expect(localVolumesFor(required, mount, '/s/p', secrets).missingSecrets).toEqual(['gone']);
  });

  it('rewrites env paths under a mount, and nothing else', () => {
    const mounts = [{ containerPath: '/etc/modelship/auth', hostPath: '/s/auth' }];
    expect(mapEnvPaths({ A: '/etc/modelship/auth/token', B: '/etc/other', C: 'plain', D: '' }, mounts)).toEqual({
      A: '/s/auth/token',
      B: '/etc/other',
      C: 'plain',
      D: '',
    });
  });
});

describe('podEndpointsOf and podEndpointOf', () => {
  const container = {
    name: 'server',
    ports: [
      { name: 'http', containerPort: 8080 },
      { name: 'metrics', containerPort: 9090 },
      { name: 'debug', containerPort: 6060 },
    ],
  };
  const local = { httpPort: 41001, metricsPort: 41002 };

  it("maps the pod IP's http and metrics ports to the local process's ports", () => {
    expect(podEndpointsOf(pod(), container, local)).toEqual({
      '10.0.0.7:8080': '127.0.0.1:41001',
      '10.0.0.7:9090': '127.0.0.1:41002',
    });
  });

  it('maps nothing while the pod has no IP', () => {
    expect(podEndpointsOf(pod({ status: { phase: 'Pending' } }), container, local)).toEqual({});
  });

  it.each([
    ['10.0.0.7', 8080, { host: '127.0.0.1', port: 41001 }],
    ['10.0.0.7', 9090, { host: '127.0.0.1', port: 41002 }],
    ['10.0.0.7', 6060, undefined],
    ['10.0.0.8', 8080, undefined],
  ])('a connection to %s:%d goes to %j', (host, port, expected) => {
    expect(podEndpointOf(host, port, podEndpointsOf(pod(), container, local))).toEqual(expected);
  });
});
