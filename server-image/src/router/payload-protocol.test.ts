import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { ObservedExchange } from './observe.js';
import { packExchanges, unpackExchanges, type Packable } from './payload-protocol.js';

const route: PayloadLogRoute = {
  url: 'http://sink.ml.svc/events',
  percent: 100,
  mode: 'all',
  modelDeployment: 'digits',
  namespace: 'ml',
};

/** A body in a slice of a larger buffer, as a socket read gives it. */
function sliceOf(bytes: number[]): Buffer {
  const read = Buffer.alloc(64 * 1024, 0xee);
  read.set(bytes, 1000);
  return read.subarray(1000, 1000 + bytes.length);
}

const exchange = (id: string, over: Partial<ObservedExchange> = {}): ObservedExchange => ({
  revision: 'digits-a41b2',
  requestId: id,
  method: 'POST',
  path: '/v2/models/mlp/infer',
  at: 1_765_100_000_123,
  request: { contentType: 'application/octet-stream', inferenceHeaderLength: 3, body: sliceOf([0, 255, 10, 13]) },
  status: 200,
  response: { body: Buffer.from('{"outputs":[]}') },
  ...over,
});

describe('packExchanges and unpackExchanges', () => {
  it('carry each logged half byte for byte with its headers, and no byte of the buffers the bodies are slices of', () => {
    const items: Packable[] = [
      { exchange: exchange('a'), now: 1_765_100_000_200, request: true, response: true },
      { exchange: exchange('b', { status: 503 }), now: 1_765_100_000_300, request: true, response: false },
      { exchange: exchange('c'), now: 1_765_100_000_400, request: false, response: true },
    ];
    const batch = packExchanges(route, items);
    expect(batch.bodies.byteLength).toBe(4 + 14 + 4 + 14);

    const out = unpackExchanges(batch);
    expect(out.map((o) => [o.exchange.requestId, o.now, o.request, o.response, o.exchange.status])).toEqual([
      ['a', 1_765_100_000_200, true, true, 200],
      ['b', 1_765_100_000_300, true, false, 503],
      ['c', 1_765_100_000_400, false, true, 200],
    ]);
    const [a, b, c] = out;
    expect(a.exchange).toMatchObject({ revision: 'digits-a41b2', at: 1_765_100_000_123 });
    expect(a.exchange.request).toEqual({
      contentType: 'application/octet-stream',
      inferenceHeaderLength: 3,
      body: Buffer.from([0, 255, 10, 13]),
    });
    // No content type and no header length stay absent, not empty.
    expect(a.exchange.response).toEqual({ body: Buffer.from('{"outputs":[]}') });
    expect(b.exchange.request.body).toEqual(Buffer.from([0, 255, 10, 13]));
    expect(b.exchange.response.body.byteLength).toBe(0);
    expect(c.exchange.request.body.byteLength).toBe(0);
    expect(c.exchange.response.body.toString()).toBe('{"outputs":[]}');
  });

  it('packs nothing of an empty batch', () => {
    const batch = packExchanges(route, []);
    expect(batch.bodies.byteLength).toBe(0);
    expect(unpackExchanges(batch)).toEqual([]);
  });
});
