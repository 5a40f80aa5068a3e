import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { ObservedExchange } from './observe.js';
import { RevisionSampler, isInferenceCall, payloadEvents } from './payload-log-events.js';

const route: PayloadLogRoute = {
  url: 'http://sink.ml.svc/events',
  percent: 100,
  mode: 'all',
  modelDeployment: 'digits',
  namespace: 'ml',
};

const exchange = (over: Partial<ObservedExchange> = {}): ObservedExchange => ({
  revision: 'digits-a41b2',
  requestId: 'req-1',
  method: 'POST',
  path: '/v2/models/mlp/infer',
  at: Date.parse('2026-12-07T10:00:00.000Z'),
  request: { contentType: 'application/json', body: Buffer.from('{"inputs":[]}') },
  status: 200,
  response: { contentType: 'application/json; charset=utf-8', body: Buffer.from('{"outputs":[]}') },
  ...over,
});

describe('isInferenceCall', () => {
  it.each([
    ['POST', '/v2/models/mlp/infer', true],
    ['POST', '/v2/models/mlp/versions/3/infer', true],
    ['POST', '/v2/models/mlp/infer?trace=1', true],
    ['POST', '/v1/models/mlp:predict', true],
    ['GET', '/v2/models/mlp/infer', false],
    ['GET', '/v2/models/mlp', false],
    ['POST', '/v2/models/mlp/infer/extra', false],
    ['POST', '/v2/models/mlp/versions/3/ready', false],
    ['POST', '/v1/models/mlp:explain', false],
    ['GET', '/v2/health/ready', false],
    ['POST', '/v2/repository/index', false],
  ])('%s %s: %s', (method, path, expected) => {
    expect(isInferenceCall(method, path)).toBe(expected);
  });
});

describe('RevisionSampler', () => {
  const takes = (s: RevisionSampler, revision: string, n: number) =>
    Array.from({ length: n }, () => s.take(revision)).filter(Boolean).length;

  it.each([0, 1, 10, 33, 50, 99, 100])('takes exactly %i of every 100 calls per revision', (percent) => {
    const s = new RevisionSampler(percent);
    for (let window = 0; window < 3; window++) {
      expect(takes(s, 'a', 100)).toBe(percent);
      expect(takes(s, 'b', 100)).toBe(percent);
    }
  });

  it('counts each revision on its own: a busy revision does not starve a quiet one', () => {
    const s = new RevisionSampler(10);
    expect(takes(s, 'busy', 1000)).toBe(100);
    expect(takes(s, 'quiet', 10)).toBe(1);
  });
});

describe('payloadEvents', () => {
  it('builds KServe binary-mode CloudEvents for the request and the response, sharing ce-id', () => {
    const done = Date.parse('2026-12-07T10:00:00.250Z');
    const [req, res] = payloadEvents(exchange(), route, 'router-7f9c', done);
    expect(req.headers).toEqual({
      'ce-specversion': '1.0',
      'ce-id': 'req-1',
      'ce-type': 'org.kubeflow.serving.inference.request',
      'ce-source': 'router-7f9c',
      'ce-time': '2026-12-07T10:00:00.000Z',
      'ce-inferenceservicename': 'digits',
      'ce-namespace': 'ml',
      'ce-component': 'predictor',
      'ce-endpoint': 'digits-a41b2',
      'ce-metadata': '{}',
      'content-type': 'application/json',
    });
    expect(req.body.toString()).toBe('{"inputs":[]}');
    expect(res.headers).toMatchObject({
      'ce-id': 'req-1',
      'ce-type': 'org.kubeflow.serving.inference.response',
      'ce-time': '2026-12-07T10:00:00.250Z',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(res.body.toString()).toBe('{"outputs":[]}');
    expect(req.revision).toBe('digits-a41b2');
  });

  it('names the binary extension JSON length in ce-metadata, as KServe forwards metadata headers', () => {
    const ex = exchange({
      request: { contentType: 'application/octet-stream', inferenceHeaderLength: 57, body: Buffer.alloc(100) },
      response: { contentType: 'application/octet-stream', inferenceHeaderLength: 80, body: Buffer.alloc(120) },
    });
    const [req, res] = payloadEvents(ex, route, 'r', 0);
    expect(JSON.parse(req.headers['ce-metadata'])).toEqual({ 'Inference-Header-Content-Length': ['57'] });
    expect(JSON.parse(res.headers['ce-metadata'])).toEqual({ 'Inference-Header-Content-Length': ['80'] });
  });

  it('sends no content-type for a payload that had none', () => {
    const ex = exchange({ request: { body: Buffer.from('x') } });
    expect(payloadEvents(ex, route, 'r', 0)[0].headers).not.toHaveProperty('content-type');
  });

  it.each([
    ['all', 200, ['request', 'response']],
    ['all', 400, ['request']],
    ['all', 503, ['request']],
    ['request', 200, ['request']],
    ['response', 200, ['response']],
    ['response', 500, []],
  ] as const)('mode %s, status %i: logs %j', (mode, status, halves) => {
    const events = payloadEvents(exchange({ status }), { ...route, mode }, 'r', 0);
    expect(events.map((e) => e.headers['ce-type'].split('.').pop())).toEqual(halves);
  });
});
