import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { KubeObject } from '../desired/types.js';
import { mdFixture } from '../../test/fixtures.js';
import { gatewayApiRouter, httpRouteFor } from './gateway-api.js';
import type { TrafficPlan } from './types.js';

const STABLE = 'aaaaaaaaaa';
const CANDIDATE = 'bbbbbbbbbb';
const md = mdFixture({
  traffic: { router: 'gateway-api', gatewayRef: { name: 'public', namespace: 'gateways', sectionName: 'https' } },
});

const backend = (revision: string, weight: number) => ({
  group: '',
  kind: 'Service',
  name: `digits-${revision}`,
  port: 80,
  weight,
});

describe('httpRouteFor', () => {
  it('splits by weight between revision Services on the referenced Gateway listener', () => {
    const route = httpRouteFor(md, {
      weights: [
        { revision: STABLE, percent: 90 },
        { revision: CANDIDATE, percent: 10 },
      ],
    });
    expect(route).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: expect.objectContaining({
        name: 'digits',
        namespace: 'ml',
        ownerReferences: [expect.objectContaining({ kind: 'ModelDeployment', controller: true })],
      }),
      spec: {
        parentRefs: [
          {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: 'public',
            namespace: 'gateways',
            sectionName: 'https',
          },
        ],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [backend(STABLE, 90), backend(CANDIDATE, 10)],
          },
        ],
      },
    });
  });

  it.each<[number, Record<string, unknown>]>([
    [100, { backendRef: { group: '', kind: 'Service', name: `digits-${CANDIDATE}`, port: 80 } }],
    [25, { backendRef: { group: '', kind: 'Service', name: `digits-${CANDIDATE}`, port: 80 }, percent: 25 }],
  ])('mirrors %d%% to the candidate with a RequestMirror filter', (percent, requestMirror) => {
    const plan: TrafficPlan = {
      weights: [
        { revision: STABLE, percent: 100 },
        { revision: CANDIDATE, percent: 0 },
      ],
      mirror: { revision: CANDIDATE, percent },
    };
    const rule = (httpRouteFor(md, plan).spec as { rules: Record<string, unknown>[] }).rules[0]!;
    expect(rule.filters).toEqual([{ type: 'RequestMirror', requestMirror }]);
    expect(rule.backendRefs).toEqual([backend(STABLE, 100), backend(CANDIDATE, 0)]);
  });

  it('leaves out optional parentRef fields the spec does not set', () => {
    const plain = mdFixture({ traffic: { router: 'gateway-api', gatewayRef: { name: 'public' } } });
    const spec = httpRouteFor(plain, { weights: [{ revision: STABLE, percent: 100 }] }).spec as {
      parentRefs: unknown[];
    };
    expect(spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }]);
  });

  it('names the object and the missing field when there is no gatewayRef', () => {
    expect(() => httpRouteFor(mdFixture(), { weights: [{ revision: STABLE, percent: 100 }] })).toThrow(
      'build HTTPRoute ml/digits: spec.traffic.gatewayRef is required with router gateway-api',
    );
  });
});

describe('gatewayApiRouter', () => {
  it('keeps the apex Service on the stable revision (the first weight)', () => {
    const objects = gatewayApiRouter().objectsFor(md, {
      weights: [
        { revision: CANDIDATE, percent: 100 },
        { revision: STABLE, percent: 0 },
      ],
    });
    const apex = objects.find((o) => o.kind === 'Service')!;
    expect(apex.metadata.name).toBe('digits');
    expect((apex.spec as { selector: Record<string, string> }).selector).toEqual({
      'modelship.dev/deployment': 'digits',
      'modelship.dev/revision': CANDIDATE,
    });
  });
});

describe('the HTTPRoute against the upstream Gateway API schema', () => {
  const validate = (route: KubeObject) =>
    new HTTPRoute(route as unknown as ConstructorParameters<typeof HTTPRoute>[0]).validate();
  const plans: [string, TrafficPlan][] = [
    ['all on stable', { weights: [{ revision: STABLE, percent: 100 }] }],
    [
      'a split',
      {
        weights: [
          { revision: STABLE, percent: 90 },
          { revision: CANDIDATE, percent: 10 },
        ],
      },
    ],
    [
      'shadow at 100%',
      {
        weights: [
          { revision: STABLE, percent: 100 },
          { revision: CANDIDATE, percent: 0 },
        ],
        mirror: { revision: CANDIDATE, percent: 100 },
      },
    ],
    [
      'a split with a 10% mirror',
      {
        weights: [
          { revision: STABLE, percent: 90 },
          { revision: CANDIDATE, percent: 10 },
        ],
        mirror: { revision: CANDIDATE, percent: 10 },
      },
    ],
  ];

  it.each(plans)('%s validates', (_name, plan) => {
    expect(() => validate(httpRouteFor(md, plan))).not.toThrow();
  });

  it('is a schema that can fail: an out-of-range mirror percent is rejected', () => {
    const route = httpRouteFor(md, {
      weights: [
        { revision: STABLE, percent: 100 },
        { revision: CANDIDATE, percent: 0 },
      ],
      mirror: { revision: CANDIDATE, percent: 50 },
    });
    const rule = (route.spec as { rules: { filters: { requestMirror: { percent: number } }[] }[] }).rules[0]!;
    rule.filters[0]!.requestMirror.percent = 250;
    expect(() => validate(route)).toThrow(/requestMirror\/percent must be <= 100/);
  });
});
