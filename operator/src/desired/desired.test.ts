/* eslint-disable @typescript-eslint/no-explicit-any -- assertions walk the built objects as free-form JSON */
import type { ModelDeployment } from '../api/types.js';
import { mdFixture, SHA_B } from '../../test/fixtures.js';
import { plan, type RolloutPlan } from '../rollout/plan.js';
import { revisionOf } from '../rollout/revision.js';
import { emptyObserved } from '../observed.js';
import { sizeBytes } from './deployment.js';
import { desiredObjects } from './index.js';
import { MAX_MD_NAME_LENGTH } from './names.js';
import type { KubeObject } from './types.js';

const NOW = new Date('2026-11-21T06:00:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:1.0.0' };

function build(md: ModelDeployment, p: RolloutPlan = plan(md, emptyObserved(), NOW)): KubeObject[] {
  return desiredObjects(md, p, OPTIONS);
}
/** The one object of a kind that belongs to a revision (the router's objects carry no revision label). */
function one(objects: KubeObject[], kind: string): Record<string, any> {
  const found = objects.filter((o) => o.kind === kind && o.metadata.labels?.['modelship.dev/revision'] !== undefined);
  expect(found).toHaveLength(1);
  return found[0] as Record<string, any>;
}
function routesOf(objects: KubeObject[]): Record<string, any> {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'digits-routes') as Record<string, any>;
  return JSON.parse(cm.data['routes.json']);
}
function container(objects: KubeObject[]): Record<string, any> {
  return one(objects, 'Deployment').spec.template.spec.containers[0];
}
function env(objects: KubeObject[]): Record<string, string | undefined> {
  return Object.fromEntries(container(objects).env.map((e: { name: string; value?: string }) => [e.name, e.value]));
}

describe('desiredObjects', () => {
  const md = mdFixture({
    replicas: 2,
    server: { batching: { maxBatchSize: 16, maxLatencyMs: 3 }, processes: 3, workers: 2 },
  });
  const rev = revisionOf(md);
  const objects = build(md);

  it('builds a Deployment, Service and PDB (2 replicas) per revision, then the router and the apex Service', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      `Deployment/digits-${rev}`,
      `Service/digits-${rev}`,
      `PodDisruptionBudget/digits-${rev}`,
      'ConfigMap/digits-routes',
      'ConfigMap/digits-stats',
      'ServiceAccount/digits-router',
      'Role/digits-router',
      'RoleBinding/digits-router',
      'Deployment/digits-router',
      'PodDisruptionBudget/digits-router',
      'Service/digits',
    ]);
  });

  it('owns everything through a controller reference, in the ModelDeployment namespace, with the common labels', () => {
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('ml');
      expect(o.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'modelship.dev/v1alpha1',
          kind: 'ModelDeployment',
          name: 'digits',
          uid: md.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'modelship',
        'modelship.dev/deployment': 'digits',
      });
    }
    const names = new Set(
      objects
        .filter((o) => o.metadata.name !== 'digits')
        .map(
          (o) =>
            `${o.metadata.name.endsWith(rev) ? 'revision' : 'router'}:${o.metadata.labels!['app.kubernetes.io/name']}`,
        ),
    );
    expect([...names].sort()).toEqual(['revision:modelship-server', 'router:modelship-router']);
  });

  it('is deterministic and plain JSON', () => {
    expect(build(md)).toEqual(objects);
    expect(JSON.parse(JSON.stringify(objects))).toEqual(objects);
  });

  it('passes the model, digest, revision and batching to the server', () => {
    expect(env(objects)).toMatchObject({
      MODELSHIP_MODEL_URI: md.spec.model.uri,
      MODELSHIP_SHA256: md.spec.model.sha256,
      MODELSHIP_MODEL_NAME: 'digits',
      MODELSHIP_MODEL_VERSION: rev,
      MODELSHIP_MAX_BATCH_SIZE: '16',
      MODELSHIP_MAX_LATENCY_MS: '3',
      MODELSHIP_PROCESSES: '3',
      MODELSHIP_WORKERS: '2',
      MODELSHIP_PORT: '8080',
      MODELSHIP_METRICS_PORT: '9090',
    });
    expect(container(objects).image).toBe(OPTIONS.serverImage);
    // Without limits in the spec, the server's own defaults hold.
    expect(env(objects)).not.toHaveProperty('MODELSHIP_MAX_BODY_SIZE');
    expect(env(objects)).not.toHaveProperty('MODELSHIP_MAX_RESPONSE_SIZE');
  });

  it('passes the request and answer size limits to the server as byte counts', () => {
    const limited = build(mdFixture({ server: { limits: { maxRequestSize: '64Mi', maxResponseSize: '500k' } } }));
    expect(env(limited)).toMatchObject({
      MODELSHIP_MAX_BODY_SIZE: String(64 * 1024 ** 2),
      MODELSHIP_MAX_RESPONSE_SIZE: '500000',
    });
  });

  it.each([
    ['1048576', 1048576],
    ['512Ki', 512 * 1024],
    ['64Mi', 64 * 1024 ** 2],
    ['2Gi', 2 * 1024 ** 3],
    ['500k', 500_000],
    ['1M', 1_000_000],
    ['1G', 1_000_000_000],
    ['32mb', undefined],
    ['1.5Mi', undefined],
  ])('reads the size %s as %s bytes', (size, bytes) => {
    expect(sizeBytes(size)).toBe(bytes);
  });

  it('hardens the pod', () => {
    const podSpec = one(objects, 'Deployment').spec.template.spec;
    expect(podSpec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(container(objects).securityContext).toEqual(
      expect.objectContaining({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      }),
    );
    expect(container(objects).terminationMessagePolicy).toBe('FallbackToLogsOnError');
    const mounts = container(objects).volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/tmp', '/var/cache/modelship']));
  });

  it('probes the V2 health endpoints and exposes metrics for scraping', () => {
    const c = container(objects);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(c.startupProbe.httpGet.path).toBe('/v2/health/live');
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ]);
    expect(one(objects, 'Deployment').spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9090',
    });
  });

  it('points the apex Service at the router, whose routes send 100% to the stable revision', () => {
    const apex = objects.find((o) => o.metadata.name === 'digits') as Record<string, any>;
    expect(apex.spec.selector).toEqual({
      'modelship.dev/deployment': 'digits',
      'app.kubernetes.io/component': 'router',
    });
    expect(apex.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(routesOf(objects).revisions).toEqual([
      { name: `digits-${rev}`, url: `http://digits-${rev}.ml.svc:80`, weight: 100, model: 'digits' },
    ]);
  });

  it('uses the spec resources, or defaults with a CPU request', () => {
    expect(container(objects).resources.requests.cpu).toBeDefined();
    const custom = build(mdFixture({ server: { resources: { requests: { cpu: '2', memory: '1Gi' } } } }));
    expect(container(custom).resources).toEqual({ requests: { cpu: '2', memory: '1Gi' } });
  });

  // Rows: spec, replicas field of the Deployment, HPA?, PDB?
  it.each([
    ['no scale settings', {}, 1, false, false],
    ['one replica', { replicas: 1 }, 1, false, false],
    ['three replicas', { replicas: 3 }, 3, false, true],
    ['zero replicas', { replicas: 0 }, 0, false, false],
    ['autoscaling from 1', { autoscaling: { maxReplicas: 4 } }, undefined, true, false],
    ['autoscaling from 2', { autoscaling: { minReplicas: 2, maxReplicas: 4 } }, undefined, true, true],
  ] as const)('%s: replicas %s, HPA %s, PDB %s', (_what, spec, replicas, hpa, pdb) => {
    const objs = build(mdFixture(spec));
    expect(one(objs, 'Deployment').spec.replicas).toBe(replicas);
    expect('replicas' in one(objs, 'Deployment').spec).toBe(replicas !== undefined);
    expect(objs.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(hpa);
    expect(objs.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name !== 'digits-router')).toBe(pdb);
  });

  it('targets the revision Deployment from the HPA with the CPU target', () => {
    const objs = build(
      mdFixture({ autoscaling: { minReplicas: 2, maxReplicas: 7, targetCPUUtilizationPercentage: 55 } }),
    );
    const hpa = one(objs, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: one(objs, 'Deployment').metadata.name },
      minReplicas: 2,
      maxReplicas: 7,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 55 } } },
      ],
    });
    expect(one(objs, 'PodDisruptionBudget').spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: one(objs, 'Deployment').spec.selector.matchLabels },
    });
  });

  it('keeps every name within 63 characters for the longest allowed ModelDeployment name', () => {
    const long = mdFixture({ autoscaling: { minReplicas: 2, maxReplicas: 3 } }, 'm'.repeat(MAX_MD_NAME_LENGTH));
    const objs = build(long);
    for (const o of objs) expect(o.metadata.name.length).toBeLessThanOrEqual(63);
    for (const o of objs)
      for (const v of Object.values(o.metadata.labels ?? {})) expect(v.length).toBeLessThanOrEqual(63);
    expect(Math.max(...objs.map((o) => o.metadata.name.length))).toBe(63);
  });

  it('refuses a name that cannot fit, naming the object', () => {
    expect(() => build(mdFixture({}, 'm'.repeat(MAX_MD_NAME_LENGTH + 1)))).toThrow(
      /ModelDeployment ml\/m+: .* longer than 63/,
    );
  });

  it('refuses to build without an owner uid', () => {
    const orphan = mdFixture();
    delete orphan.metadata.uid;
    expect(() => build(orphan)).toThrow(/ModelDeployment ml\/digits: metadata.uid is not set/);
  });

  it('mounts a pvc:// model read-only under the server pvc root', () => {
    const objs = build(mdFixture({ model: { uri: 'pvc://models/digits/v1.onnx', sha256: SHA_B } }));
    const podSpec = one(objs, 'Deployment').spec.template.spec;
    expect(podSpec.volumes).toEqual(
      expect.arrayContaining([{ name: 'model-pvc', persistentVolumeClaim: { claimName: 'models', readOnly: true } }]),
    );
    expect(container(objs).volumeMounts).toEqual(
      expect.arrayContaining([{ name: 'model-pvc', mountPath: '/mnt/pvc/models', readOnly: true }]),
    );
    expect(env(objs).MODELSHIP_MODEL_URI).toBe('pvc://models/digits/v1.onnx');
    expect(env(objs).MODELSHIP_PVC_ROOT).toBe('/mnt/pvc');
  });

  it('mounts the auth token and the signature material as files, never as plain env values', () => {
    const objs = build(
      mdFixture({
        model: {
          uri: 'https://m.example.com/d.onnx',
          sha256: SHA_B,
          signature: { value: 'c2lnbmF0dXJl', publicKeySecretRef: { name: 'keys' } },
        },
        auth: { tokenSecretRef: { name: 'tokens' } },
      }),
    );
    const e = env(objs);
    expect(e.MODELSHIP_AUTH_TOKEN_FILE).toBe('/etc/modelship/auth/token');
    expect(e.MODELSHIP_SIGNATURE).toBe('/etc/modelship/signature/signature');
    expect(e.MODELSHIP_PUBLIC_KEY).toBe('/etc/modelship/public-key/key.pem');
    const volumes = one(objs, 'Deployment').spec.template.spec.volumes;
    expect(volumes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'auth-token',
          secret: expect.objectContaining({ secretName: 'tokens', items: [{ key: 'token', path: 'token' }] }),
        }),
        expect.objectContaining({ name: 'public-key', secret: expect.objectContaining({ secretName: 'keys' }) }),
      ]),
    );
    expect(one(objs, 'Deployment').spec.template.metadata.annotations['modelship.dev/signature']).toBe('c2lnbmF0dXJl');
  });

  describe('spec.model.storage', () => {
    const s3 = mdFixture({
      model: {
        uri: 's3://models/digits.onnx',
        sha256: SHA_B,
        storage: {
          secretRef: { name: 'models-creds' },
          endpoint: 'https://minio.example:9000',
          region: 'eu-west-1',
          pathStyle: true,
          caBundleRef: { name: 'store-ca', key: 'bundle.pem' },
          timeoutSeconds: 600,
        },
      },
    });
    const withCache = (m: ModelDeployment) =>
      desiredObjects(m, plan(m, emptyObserved(), NOW), { ...OPTIONS, nodeCacheUrl: 'http://modelship-cache:8090' });

    it('passes every store setting the spec gives to the server, and no other', () => {
      const e = env(build(s3));
      expect(e).toMatchObject({
        MODELSHIP_MODEL_URI: 's3://models/digits.onnx',
        MODELSHIP_STORAGE_ENDPOINT: 'https://minio.example:9000',
        MODELSHIP_STORAGE_REGION: 'eu-west-1',
        MODELSHIP_STORAGE_PATH_STYLE: 'true',
        MODELSHIP_STORAGE_TIMEOUT_SECONDS: '600',
        MODELSHIP_STORAGE_CREDENTIALS_DIR: '/etc/modelship/storage',
        MODELSHIP_STORAGE_CA_FILE: '/etc/modelship/storage-ca/ca.crt',
      });
      expect(Object.keys(env(build(mdFixture()))).filter((k) => k.startsWith('MODELSHIP_STORAGE_'))).toEqual([]);
      const oci = mdFixture({
        model: { uri: 'oci://localhost:5000/models/digits:v1', sha256: SHA_B, storage: { plainHTTP: false } },
      });
      expect(env(build(oci)).MODELSHIP_STORAGE_PLAIN_HTTP).toBe('false');
    });

    it('mounts the credentials Secret read-only as files, never as env values, and fails the pod if it is missing', () => {
      const objs = build(s3);
      const podSpec = one(objs, 'Deployment').spec.template.spec;
      expect(podSpec.volumes).toContainEqual({
        name: 'storage-credentials',
        secret: { secretName: 'models-creds', defaultMode: 0o440, optional: false },
      });
      expect(container(objs).volumeMounts).toContainEqual({
        name: 'storage-credentials',
        mountPath: '/etc/modelship/storage',
        readOnly: true,
      });
      expect(container(objs).env.filter((e: any) => e.valueFrom !== undefined)).toEqual([]);
    });

    it('mounts the CA ConfigMap key as ca.crt, whatever its key is called', () => {
      const objs = build(s3);
      expect(one(objs, 'Deployment').spec.template.spec.volumes).toContainEqual({
        name: 'storage-ca',
        configMap: {
          name: 'store-ca',
          items: [{ key: 'bundle.pem', path: 'ca.crt' }],
          defaultMode: 0o440,
          optional: false,
        },
      });
      expect(container(objs).volumeMounts).toContainEqual({
        name: 'storage-ca',
        mountPath: '/etc/modelship/storage-ca',
        readOnly: true,
      });
    });

    it('keeps the pod restricted: no hostPath, the same security context as any model pod', () => {
      const podSpec = one(withCache(s3), 'Deployment').spec.template.spec;
      expect(podSpec.volumes.filter((v: any) => v.hostPath !== undefined)).toEqual([]);
      expect(podSpec.securityContext).toEqual(one(build(mdFixture()), 'Deployment').spec.template.spec.securityContext);
      expect(podSpec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, privileged: false });
    });

    it.each([
      ['s3://models/digits.onnx', true],
      ['gs://models/digits.onnx', true],
      [`oci://registry.example.com/models/digits@sha256:${SHA_B}`, true],
      ['https://models.example.com/digits.onnx', true],
      ['http://models.example.com/digits.onnx', true],
      ['pvc://models/digits.onnx', false],
      ['file:///models/digits.onnx', false],
    ])('passes the node cache URL to a server of %s: %s', (uri, cached) => {
      const e = env(withCache(mdFixture({ model: { uri, sha256: SHA_B } })));
      expect(e.MODELSHIP_NODE_CACHE_URL).toBe(cached ? 'http://modelship-cache:8090' : undefined);
    });

    it('passes no node cache URL when the operator has none', () => {
      expect(env(build(s3)).MODELSHIP_NODE_CACHE_URL).toBeUndefined();
    });
  });

  it('keeps the revision template annotation under the 256 KiB annotation limit for the largest valid spec', () => {
    const env = Array.from({ length: 64 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(1024) }));
    const objs = build(
      mdFixture({
        model: { uri: `https://m.example.com/${'p'.repeat(2000)}`, sha256: SHA_B, name: 'n'.repeat(63) },
        server: { env },
      }),
    );
    const annotations = one(objs, 'Deployment').metadata.annotations as Record<string, string>;
    const size = Object.entries(annotations).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(size).toBeLessThan(256 * 1024);
  });

  it('appends the user env after the operator env', () => {
    const objs = build(
      mdFixture({
        server: {
          env: [
            { name: 'OMP_NUM_THREADS', value: '1' },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          ],
        },
      }),
    );
    const names = container(objs).env.map((e: { name: string }) => e.name);
    expect(names.slice(-2)).toEqual(['OMP_NUM_THREADS', 'TOKEN']);
  });

  it('renders stable and candidate while a new revision starts, all traffic still on the stable', () => {
    const v1 = mdFixture({ replicas: 2 });
    const v2 = {
      ...mdFixture({ replicas: 2, model: { uri: 'https://m.example.com/v2.onnx', sha256: SHA_B } }),
      status: { stable: { revision: revisionOf(v1), model: v1.spec.model, readyReplicas: 2 } },
    };
    const observed = {
      ...emptyObserved(),
      deployments: build(v1)
        .filter((o) => o.kind === 'Deployment')
        .map((o) => ({ ...(o as object), status: {} })),
    };
    const objs = build(v2, plan(v2, observed, NOW));
    expect(objs.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual([
      `digits-${revisionOf(v1)}`,
      `digits-${revisionOf(v2)}`,
      'digits-router',
    ]);
    const v1Deployment = objs.find((o) => o.kind === 'Deployment') as Record<string, any>;
    expect(
      v1Deployment.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'MODELSHIP_MODEL_URI')
        .value,
    ).toBe(v1.spec.model.uri);
    expect(routesOf(objs).revisions.map((r: { name: string; weight: number }) => [r.name, r.weight])).toEqual([
      [`digits-${revisionOf(v1)}`, 100],
      [`digits-${revisionOf(v2)}`, 0],
    ]);
  });

  describe("with spec.auth, the router reads each revision's metadata with that revision's token Secret", () => {
    const router = (objs: KubeObject[]) =>
      objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'digits-router') as Record<string, any>;
    const canary = (v1: ModelDeployment, v2spec: Partial<ModelDeployment['spec']>) => {
      const v2 = {
        ...mdFixture({ ...v1.spec, model: { uri: 'https://m.example.com/v2.onnx', sha256: SHA_B }, ...v2spec }),
        status: { stable: { revision: revisionOf(v1), model: v1.spec.model, readyReplicas: 2 } },
      };
      const observed = {
        ...emptyObserved(),
        deployments: build(v1)
          .filter((o) => o.kind === 'Deployment')
          .map((o) => ({ ...(o as object), status: {} })),
      };
      return { v2, objs: build(v2, plan(v2, observed, NOW)) };
    };
    const tokenFiles = (objs: KubeObject[]) =>
      routesOf(objs).revisions.map((r: { name: string; tokenFile?: string }) => [r.name, r.tokenFile]);

    it.each([
      ['no auth: no token file, no volume', undefined, undefined, [undefined, undefined], undefined],
      [
        'the same Secret on both revisions',
        { name: 'tokens' },
        { name: 'tokens' },
        ['tokens/token', 'tokens/token'],
        [{ name: 'tokens', items: ['token'] }],
      ],
      [
        'the canary moves to another Secret and key',
        { name: 'tokens' },
        { name: 'tokens-2', key: 'api' },
        ['tokens/token', 'tokens-2/api'],
        [
          { name: 'tokens', items: ['token'] },
          { name: 'tokens-2', items: ['api'] },
        ],
      ],
      [
        'auth added by the canary',
        undefined,
        { name: 'tokens' },
        [undefined, 'tokens/token'],
        [{ name: 'tokens', items: ['token'] }],
      ],
      [
        'auth removed by the canary',
        { name: 'tokens' },
        undefined,
        ['tokens/token', undefined],
        [{ name: 'tokens', items: ['token'] }],
      ],
    ] as const)('%s', (_case, stableRef, canaryRef, files, sources) => {
      const v1 = mdFixture({ replicas: 2, ...(stableRef ? { auth: { tokenSecretRef: { ...stableRef } } } : {}) });
      const { v2, objs } = canary(v1, canaryRef ? { auth: { tokenSecretRef: { ...canaryRef } } } : { auth: undefined });
      expect(tokenFiles(objs)).toEqual([
        [`digits-${revisionOf(v1)}`, files[0]],
        [`digits-${revisionOf(v2)}`, files[1]],
      ]);
      const pod = router(objs).spec.template.spec;
      const volume = pod.volumes?.find((v: { name: string }) => v.name === 'auth-tokens');
      expect(
        volume?.projected.sources.map((s: { secret: { name: string; items: { key: string }[] } }) => ({
          name: s.secret.name,
          items: s.secret.items.map((i) => i.key),
        })),
      ).toEqual(sources);
      // Every route's token file is a file of the mounted volume.
      const mounted = new Set<string>(
        (volume?.projected.sources ?? []).flatMap((s: { secret: { items: { path: string }[] } }) =>
          s.secret.items.map((i) => i.path),
        ),
      );
      for (const f of files) if (f) expect(mounted).toContain(f);
    });

    it('does not restart the router for a canary that keeps the Secret', () => {
      const v1 = mdFixture({ replicas: 2, auth: { tokenSecretRef: { name: 'tokens' } } });
      const { objs } = canary(v1, {});
      expect(router(objs).spec.template).toEqual(router(build(v1)).spec.template);
    });
  });
});
