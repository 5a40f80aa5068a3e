import { wakesUp } from './caches.js';
import type { KubeObject } from './client.js';

const stats = (data?: Record<string, string>): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'digits-stats', namespace: 'ml', labels: { 'app.kubernetes.io/component': 'router-stats' } },
    data,
  }) as KubeObject;

const document = (held: number) =>
  JSON.stringify({
    version: 1,
    pod: 'digits-router-a',
    startTime: '2026-11-21T06:00:00.000Z',
    time: '2026-11-21T06:00:05.000Z',
    routesGeneration: 7,
    revisions: {
      'digits-a41b2': {
        live: { requests: 0, errors: 0, codes: {}, latencyMs: { le: [1], counts: [0], count: 0, sum: 0 } },
        mirror: { requests: 0, errors: 0, codes: {}, latencyMs: { le: [1], counts: [0], count: 0, sum: 0 } },
        load: { inFlight: held, held, busyMs: 0, heldTotal: held, heldRefused: 0 },
      },
    },
    agreement: {},
  });

describe('wakesUp: which changes of owned objects call for a reconcile', () => {
  it.each<[string, KubeObject, boolean]>([
    [
      'a Deployment',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'digits-a41b2', namespace: 'ml' } },
      true,
    ],
    ['the stats ConfigMap, every few seconds: no', stats({ 'digits-router-a.json': document(0) }), false],
    ['the stats ConfigMap, empty: no', stats(), false],
    [
      'the stats ConfigMap holding requests for a revision at zero: at once',
      stats({ 'digits-router-a.json': document(3) }),
      true,
    ],
  ])('%s', (_name, obj, expected) => {
    expect(wakesUp(obj)).toBe(expected);
  });
});
