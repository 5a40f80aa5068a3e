import { ownerKeyOf } from './caches.js';
import { verbOf } from './client.js';
import { pathFor, resourceFor, resourceOfPath } from './resources.js';

describe('REST paths', () => {
  it.each([
    ['apps/v1', 'Deployment', 'ns', 'd', undefined, '/apis/apps/v1/namespaces/ns/deployments/d'],
    ['v1', 'Service', 'ns', undefined, undefined, '/api/v1/namespaces/ns/services'],
    ['v1', 'Pod', undefined, undefined, undefined, '/api/v1/pods'],
    [
      'modelship.dev/v1alpha1',
      'ModelDeployment',
      'ml',
      'digits',
      'status',
      '/apis/modelship.dev/v1alpha1/namespaces/ml/modeldeployments/digits/status',
    ],
    ['v1', 'Namespace', 'ignored', 'ml', undefined, '/api/v1/namespaces/ml'],
  ])('%s %s ns=%s name=%s sub=%s → %s', (apiVersion, kind, ns, name, sub, path) => {
    expect(pathFor(resourceFor(apiVersion, kind), ns, name, sub)).toBe(path);
  });

  it('names unknown kinds', () => {
    expect(() => resourceFor('v1', 'Secret')).toThrow('unknown resource v1 Secret');
  });

  it.each([
    ['/apis/apps/v1/namespaces/ns/deployments/d/status', 'deployments/status', true],
    ['/apis/apps/v1/deployments', 'deployments', false],
    ['/api/v1/namespaces/ns/pods', 'pods', false],
    ['/api/v1/namespaces', 'namespaces', false],
    ['/api/v1/namespaces/ns', 'namespaces', true],
    ['/apis/coordination.k8s.io/v1/namespaces/x/leases/l?x=1', 'leases', true],
  ])('%s is resource %s (named %s)', (path, resource, named) => {
    expect(resourceOfPath(path)).toEqual({ resource, named });
  });

  it.each([
    [{ method: 'GET', path: '/api/v1/pods', query: { watch: true } }, 'watch'],
    [{ method: 'GET', path: '/api/v1/pods' }, 'list'],
    [{ method: 'GET', path: '/api/v1/namespaces/a/pods/p' }, 'get'],
    [
      { method: 'PATCH', path: '/api/v1/namespaces/a/services/s', contentType: 'application/apply-patch+yaml' },
      'apply',
    ],
    [
      { method: 'PATCH', path: '/api/v1/namespaces/a/services/s', contentType: 'application/merge-patch+json' },
      'patch',
    ],
    [{ method: 'POST', path: '/api/v1/namespaces/a/services' }, 'create'],
    [{ method: 'PUT', path: '/api/v1/namespaces/a/services/s' }, 'update'],
    [{ method: 'DELETE', path: '/api/v1/namespaces/a/services/s' }, 'delete'],
  ] as const)('%j counts as %s', (req, verb) => {
    expect(verbOf(req)).toBe(verb);
  });
});

describe('ownerKeyOf', () => {
  const base = { metadata: { name: 'x', namespace: 'ml' } };
  it('prefers the controller ownerReference to a ModelDeployment', () => {
    expect(
      ownerKeyOf(
        {
          metadata: {
            ...base.metadata,
            labels: { 'modelship.dev/deployment': 'other' },
            ownerReferences: [
              {
                apiVersion: 'modelship.dev/v1alpha1',
                kind: 'ModelDeployment',
                name: 'digits',
                uid: 'u',
                controller: true,
              },
            ],
          },
        },
        'modelship.dev/deployment',
      ),
    ).toBe('ml/digits');
  });
  it('falls back to the owner label (pods are owned by ReplicaSets)', () => {
    expect(
      ownerKeyOf(
        {
          metadata: {
            ...base.metadata,
            labels: { 'modelship.dev/deployment': 'digits' },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r', controller: true }],
          },
        },
        'modelship.dev/deployment',
      ),
    ).toBe('ml/digits');
  });
  it('is undefined for unrelated or cluster-scoped objects', () => {
    expect(ownerKeyOf(base, 'modelship.dev/deployment')).toBeUndefined();
    expect(
      ownerKeyOf({ metadata: { name: 'n', labels: { 'modelship.dev/deployment': 'd' } } }, 'modelship.dev/deployment'),
    ).toBeUndefined();
  });
});
