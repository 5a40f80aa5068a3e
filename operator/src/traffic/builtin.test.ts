import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ROUTES_KEY } from '../../../contract/keys.js';
import { validateRoutes } from '../../../contract/routes.js';
import { revisionServiceFor } from '../desired/service.js';
import { MAX_MD_NAME_LENGTH } from '../desired/names.js';
import type { KubeObject } from '../desired/types.js';
import { mdFixture } from '../../test/fixtures.js';
import { builtinRouter, routerSelector, routerTokenVolumeFor } from './builtin.js';
import { trafficRouterFor } from './index.js';
import { routesFor } from './routes.js';
import type { TrafficPlan } from './types.js';

const OPTIONS = { serverImage: 'ghcr.io/modelship/server:test' };
const STABLE = 'aaaaaaaaaa';
const CANDIDATE = 'bbbbbbbbbb';
const SPLIT: TrafficPlan = {
  weights: [
    { revision: STABLE, percent: 90 },
    { revision: CANDIDATE, percent: 10 },
  ],
};

const find = (objects: KubeObject[], kind: string, name?: string) => {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ''}`);
  return o;
};

type Container = {
  env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
  image: string;
  securityContext: Record<string, unknown>;
};
type PodTemplate = {
  metadata: { labels: Record<string, string> };
  spec: { serviceAccountName: string; containers: Container[] };
};

describe('builtinRouter', () => {
  const md = mdFixture({ traffic: { stickyHeader: 'X-User-Id' } });
  const objects = builtinRouter(OPTIONS).objectsFor(md, SPLIT);

  it('renders routes ConfigMap, stats ConfigMap, RBAC, Deployment and apex Service, all owned by the ModelDeployment', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ConfigMap/digits-routes',
      'ConfigMap/digits-stats',
      'ServiceAccount/digits-router',
      'Role/digits-router',
      'RoleBinding/digits-router',
      'Deployment/digits-router',
      'PodDisruptionBudget/digits-router',
      'Service/digits',
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('ml');
      expect(o.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ModelDeployment', name: 'digits', controller: true }),
      ]);
    }
    expect(find(objects, 'ConfigMap', 'digits-stats')).not.toHaveProperty('data');
  });

  it('writes a Routes document the router itself accepts, with the exact weights', () => {
    const text = (find(objects, 'ConfigMap', 'digits-routes').data as Record<string, string>)[ROUTES_KEY]!;
    const result = validateRoutes(JSON.parse(text));
    expect(result).toEqual({
      ok: true,
      routes: {
        version: 1,
        generation: expect.any(Number),
        revisions: [
          { name: `digits-${STABLE}`, url: `http://digits-${STABLE}.ml.svc:80`, weight: 90 },
          { name: `digits-${CANDIDATE}`, url: `http://digits-${CANDIDATE}.ml.svc:80`, weight: 10 },
        ],
        stickyHeader: 'x-user-id',
        statsIntervalMs: 5000,
      },
    });
  });

  it('mirrors to a zero-weight candidate in a form the router accepts', () => {
    const routes = routesFor(md, {
      weights: [
        { revision: STABLE, percent: 100 },
        { revision: CANDIDATE, percent: 0 },
      ],
      mirror: { revision: CANDIDATE, percent: 100 },
    });
    const result = validateRoutes(JSON.parse(JSON.stringify(routes)));
    expect(result.ok).toBe(true);
    expect(routes.mirror).toEqual({ revision: `digits-${CANDIDATE}`, percent: 100 });
  });

  it('derives the generation from the content: same routes same generation, any change a new one', () => {
    const g = (plan: TrafficPlan) => routesFor(md, plan).generation;
    expect(g(SPLIT)).toBe(g(structuredClone(SPLIT)));
    expect(g(SPLIT)).not.toBe(
      g({
        weights: [
          { revision: STABLE, percent: 50 },
          { revision: CANDIDATE, percent: 50 },
        ],
      }),
    );
    expect(g(SPLIT)).not.toBe(g({ ...SPLIT, mirror: { revision: CANDIDATE, percent: 10 } }));
    expect(Number.isSafeInteger(g(SPLIT))).toBe(true);
  });

  it('refuses a plan where no revision takes traffic, and a mirror to an unlisted revision', () => {
    expect(() => routesFor(md, { weights: [{ revision: STABLE, percent: 0 }] })).toThrow(
      'build routes of ModelDeployment ml/digits: no revision has a weight above 0',
    );
    expect(() =>
      routesFor(md, { weights: [{ revision: STABLE, percent: 100 }], mirror: { revision: CANDIDATE, percent: 5 } }),
    ).toThrow(`mirror revision ${CANDIDATE} has no weight entry`);
  });

  it('gives the router least privilege: its two ConfigMaps by name, read routes, patch stats, nothing else', () => {
    expect(find(objects, 'Role').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['digits-routes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['digits-stats'], verbs: ['get', 'patch'] },
    ]);
    expect(find(objects, 'RoleBinding')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'digits-router' },
      subjects: [{ kind: 'ServiceAccount', name: 'digits-router', namespace: 'ml' }],
    });
  });

  it('sends the stats interval in the routes, so a new analysis interval leaves the router pods alone', () => {
    const slower = mdFixture({
      traffic: { stickyHeader: 'X-User-Id' },
      rollout: { analysis: { intervalSeconds: 4 } },
    });
    const changed = builtinRouter(OPTIONS).objectsFor(slower, SPLIT);
    const template = (objs: KubeObject[]) => (find(objs, 'Deployment').spec as { template: PodTemplate }).template;
    expect(template(changed)).toEqual(template(objects));
    const routes = (objs: KubeObject[]) =>
      JSON.parse((find(objs, 'ConfigMap', 'digits-routes').data as Record<string, string>)[ROUTES_KEY]!) as {
        statsIntervalMs: number;
      };
    expect(routes(objects).statsIntervalMs).toBe(5000);
    expect(routes(changed).statsIntervalMs).toBe(2000);
  });

  it('uses the router image when the operator has one', () => {
    const d = builtinRouter({ ...OPTIONS, routerImage: 'ghcr.io/modelship/router:test' }).objectsFor(md, SPLIT);
    expect((find(d, 'Deployment').spec as { template: PodTemplate }).template.spec.containers[0]!.image).toBe(
      'ghcr.io/modelship/router:test',
    );
  });

  it('points the apex Service at the router pods only, never at revision pods', () => {
    const apex = find(objects, 'Service', 'digits').spec as { selector: Record<string, string> };
    const routerPods = (find(objects, 'Deployment').spec as { template: PodTemplate }).template.metadata.labels;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(apex.selector).toEqual(routerSelector(md));
    expect(
      (find(objects, 'PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels,
    ).toEqual(routerSelector(md));
    expect(matches(apex.selector, routerPods)).toBe(true);
    const revisionSelector = (revisionServiceFor(md, STABLE).spec as { selector: Record<string, string> }).selector;
    expect(matches(revisionSelector, routerPods)).toBe(false);
  });

  it('keeps every name within 63 characters for the longest allowed ModelDeployment name', () => {
    const long = mdFixture({}, 'm'.repeat(MAX_MD_NAME_LENGTH));
    for (const o of builtinRouter(OPTIONS).objectsFor(long, SPLIT))
      expect(o.metadata.name.length).toBeLessThanOrEqual(63);
  });
});

describe('builtinRouter with autoscaling', () => {
  it('scales the router with an HPA on CPU when asked, and leaves the count to it', () => {
    const md = mdFixture({ traffic: { routerAutoscaling: { maxReplicas: 5 } } });
    const objects = builtinRouter(OPTIONS).objectsFor(md, SPLIT);
    expect(find(objects, 'HorizontalPodAutoscaler', 'digits-router').spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'digits-router' },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      ],
    });
    expect(find(objects, 'Deployment', 'digits-router').spec).not.toHaveProperty('replicas');
    const fixed = builtinRouter(OPTIONS).objectsFor(mdFixture(), SPLIT);
    expect(fixed.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    expect(find(fixed, 'Deployment', 'digits-router').spec).toMatchObject({ replicas: 2 });
  });

  it('tells the router which revisions to hold and for how long, and to publish every second, with request autoscaling', () => {
    const md = mdFixture({
      autoscaling: {
        minReplicas: 0,
        maxReplicas: 4,
        targetConcurrency: 2,
        idleSeconds: 60,
        activationTimeoutSeconds: 30,
      },
    });
    const routes = routesFor(md, { weights: [{ revision: STABLE, percent: 100 }], hold: [STABLE] });
    expect(validateRoutes(routes)).toEqual({ ok: true, routes });
    expect(routes).toMatchObject({
      revisions: [{ name: `digits-${STABLE}`, weight: 100, hold: true }],
      statsIntervalMs: 1000,
      holdTimeoutMs: 30_000,
    });
    const released = routesFor(md, { weights: [{ revision: STABLE, percent: 100 }] });
    expect(released.revisions[0]).not.toHaveProperty('hold');
    expect(released.generation).not.toBe(routes.generation);
    const cpu = routesFor(mdFixture({ autoscaling: { maxReplicas: 4 } }), SPLIT);
    expect(cpu).not.toHaveProperty('holdTimeoutMs');
    expect(cpu.statsIntervalMs).toBe(5000);
  });
});

describe('builtinRouter with auth token Secrets', () => {
  const md = mdFixture();
  const AUTH: TrafficPlan = {
    ...SPLIT,
    models: { [STABLE]: 'digits', [CANDIDATE]: 'digits' },
    tokenSecrets: { [STABLE]: { name: 'tokens' }, [CANDIDATE]: { name: 'tokens-2', key: 'api' } },
  };
  const objects = builtinRouter(OPTIONS).objectsFor(md, AUTH);
  type Pod = {
    securityContext: { fsGroup?: number };
    volumes?: unknown[];
    containers: (Container & { volumeMounts?: { name: string; mountPath: string; readOnly: boolean }[] })[];
  };
  const podOf = (objs: KubeObject[]) => (find(objs, 'Deployment').spec as { template: { spec: Pod } }).template.spec;

  it('mounts nothing and sets no fsGroup when no revision requires a token', () => {
    const pod = podOf(builtinRouter(OPTIONS).objectsFor(md, SPLIT));
    expect(pod.volumes).toBeUndefined();
    expect(pod.containers[0]!.volumeMounts).toBeUndefined();
    expect(pod.securityContext.fsGroup).toBeUndefined();
    expect(pod.containers[0]!.env.map((e) => e.name)).not.toContain('MODELSHIP_ROUTER_TOKEN_DIR');
  });

  it('mounts each Secret read-only, group-readable, optional, with no Secret RBAC for the router', () => {
    const pod = podOf(objects);
    expect(pod.volumes).toEqual([
      {
        name: 'auth-tokens',
        projected: {
          defaultMode: 0o440,
          sources: [
            { secret: { name: 'tokens', optional: true, items: [{ key: 'token', path: 'tokens/token' }] } },
            { secret: { name: 'tokens-2', optional: true, items: [{ key: 'api', path: 'tokens-2/api' }] } },
          ],
        },
      },
    ]);
    expect(pod.containers[0]!.volumeMounts).toEqual([
      { name: 'auth-tokens', mountPath: '/etc/modelship/router-tokens', readOnly: true },
    ]);
    expect(pod.securityContext.fsGroup).toBe(65532);
    const rules = find(objects, 'Role').rules as { resources: string[] }[];
    expect(rules.flatMap((r) => r.resources)).toEqual(['configmaps', 'configmaps']);
  });

  it('mounts a Secret shared by several revisions once, and orders Secrets and keys so the pod template is stable', () => {
    expect(
      routerTokenVolumeFor([
        { name: 'b' },
        { name: 'a', key: 'y' },
        { name: 'b', key: 'token' },
        { name: 'a', key: 'x' },
      ]),
    ).toEqual({
      name: 'auth-tokens',
      projected: {
        defaultMode: 0o440,
        sources: [
          {
            secret: {
              name: 'a',
              optional: true,
              items: [
                { key: 'x', path: 'a/x' },
                { key: 'y', path: 'a/y' },
              ],
            },
          },
          { secret: { name: 'b', optional: true, items: [{ key: 'token', path: 'b/token' }] } },
        ],
      },
    });
    expect(routerTokenVolumeFor([])).toBeUndefined();
  });
});

describe('builtin objects against the Kubernetes OpenAPI schema', () => {
  type Model = { validate(): void };
  const MODELS: Record<string, new (data: never) => Model> = {
    ConfigMap,
    ServiceAccount,
    Role,
    RoleBinding,
    Deployment,
    PodDisruptionBudget,
    Service,
    HorizontalPodAutoscaler,
  };
  const validate = (o: KubeObject) => new MODELS[o.kind]!(o as never).validate();
  const md = mdFixture({ traffic: { stickyHeader: 'x-user-id' } });

  it('validates every object', () => {
    const objects = builtinRouter(OPTIONS).objectsFor(md, { ...SPLIT, mirror: { revision: CANDIDATE, percent: 10 } });
    for (const o of objects) expect(() => validate(o)).not.toThrow();
  });

  it('validates every object with token Secrets mounted', () => {
    const objects = builtinRouter(OPTIONS).objectsFor(md, {
      ...SPLIT,
      tokenSecrets: { [STABLE]: { name: 'tokens' }, [CANDIDATE]: { name: 'tokens', key: 'other' } },
    });
    for (const o of objects) expect(() => validate(o)).not.toThrow();
  });

  it('validates every object with the router autoscaled and a revision held', () => {
    const scaled = mdFixture({ traffic: { routerAutoscaling: { maxReplicas: 5 } } });
    const objects = builtinRouter(OPTIONS).objectsFor(scaled, { ...SPLIT, hold: [STABLE] });
    for (const o of objects) expect(() => validate(o)).not.toThrow();
  });

  it('is a schema that can fail: a malformed Deployment is rejected', () => {
    const deployment = structuredClone(
      builtinRouter(OPTIONS)
        .objectsFor(md, SPLIT)
        .find((o) => o.kind === 'Deployment')!,
    );
    (deployment.spec as { replicas: unknown }).replicas = 'two';
    expect(() => validate(deployment)).toThrow(/replicas must be integer/);
  });
});

describe('trafficRouterFor', () => {
  it('is the builtin router by default and the Gateway API when asked', () => {
    const kinds = (router: ReturnType<typeof trafficRouterFor>, md: ReturnType<typeof mdFixture>) =>
      router.objectsFor(md, SPLIT).map((o) => o.kind);
    const builtin = mdFixture();
    expect(kinds(trafficRouterFor(builtin, OPTIONS), builtin)).toContain('Deployment');
    const gw = mdFixture({ traffic: { router: 'gateway-api', gatewayRef: { name: 'public' } } });
    expect(kinds(trafficRouterFor(gw, OPTIONS), gw)).toEqual(['HTTPRoute', 'Service']);
  });
});
